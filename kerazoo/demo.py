"""`kerazoo demo`: an offline tour on the shipped weights, written to a report folder.

1. `lenet5.mnist` on real handwritten digits it never saw (scikit-learn's digits, resized).
2. Transfer: fine-tuning `lenet5.mnist` on a few digits vs the same budget from scratch; then on a
   folder of letter images it writes itself, as a user's own folder (`kerazoo finetune --data`).
3. `imdb_*.imdb` on raw review sentences.
4. `seq2seq_attention.dates` translating dates, with attention maps, in Python and through its
   SavedModel (decoding inside the graph).
5. `word2vec.imdb`: nearest neighbours of a few words.
6. `dcgan.mnist`: generated digits, and what `lenet5.mnist` reads in them.
Sections 3-6 run when their artifact is shipped. Numbers go to `results.json`, plots to PNG
files, and everything to `report.md` / `report.html`.
"""
from __future__ import annotations

import html
import json
import time
from pathlib import Path

import numpy as np

import kerazoo
from kerazoo import artifacts
from kerazoo.plots import pyplot
from kerazoo.rundir import check_writable

SENTENCES = ["A wonderful, moving film with brilliant performances. I loved every minute.",
             "One of the worst movies I have ever seen: boring, badly acted and far too long.",
             "The plot was predictable but the actors saved it; an enjoyable evening.",
             "I wanted to like it, but the script is a mess and the ending made no sense."]
DATES = ["3rd of March 1998", "Tue 03/03/98", "December 25, 2021", "1 jan 2000", "saturday 14 july 1979"]
DATE_RANGE = "1950-2049"  # the calendar window of the generated task (kerazoo.data.dates)
LETTERS = "ABCDE"


def _outputs(model, x, compiled: bool = False) -> np.ndarray:
    """The model's outputs for a few inputs in one call, eager or `compiled` as one graph: eager runs a recurrent
    model's loop op by op (imdb_gru: 15 s on four sentences, against 1 s compiled). Not `predict`: its step
    functions, one per model of the dozen the demo loads, set off TensorFlow's retracing warning."""
    import keras
    import tensorflow as tf

    call = tf.function(model) if compiled and keras.backend.backend() == "tensorflow" else model
    return np.asarray(call(tf.constant(x), training=False))


def _digits_section(out: Path, quick: bool) -> dict:
    import keras

    from kerazoo import data
    from kerazoo.training.finetune import finetune

    (x_tr, y_tr), (x_te, y_te) = data.load_numpy("digits")
    model = kerazoo.get("lenet5.mnist", compile=True)
    zero_shot = float(np.mean(_outputs(model, x_te).argmax(-1) == y_te))

    per_class = 5 if quick else 10
    rng = np.random.default_rng(0)
    few = np.concatenate([rng.choice(np.flatnonzero(y_tr == c), per_class, replace=False) for c in range(10)])
    head_epochs, tune_epochs = (2, 2) if quick else (10, 10)
    keras.utils.set_random_seed(0)
    transfer = kerazoo.get("lenet5.mnist", classes=10)  # pretrained backbone, fresh head
    t0 = time.time()
    hist_t = finetune(transfer, (x_tr[few], y_tr[few]), (x_te, y_te), head_epochs=head_epochs,
                      finetune_epochs=tune_epochs, batch_size=16, verbose=0)
    transfer_s = time.time() - t0
    card_model = kerazoo.describe("lenet5")["weights"]["mnist"]["model"]
    scratch, hist_s = {}, {}
    # from scratch: the same model, and the fairer small-data baseline without batch norm (whose moving
    # averages lag on so few steps, leaving the same model far worse at test time than it trained)
    for name, change in (("same model", {}), ("without batch norm", {"normalization": "none"})):
        keras.utils.set_random_seed(0)
        scratch[name] = kerazoo.get("lenet5", **{**card_model, **change})
        scratch[name].compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                              metrics=["accuracy"])
        hist_s[name] = scratch[name].fit(x_tr[few], y_tr[few], validation_data=(x_te, y_te),
                                         epochs=head_epochs + tune_epochs, batch_size=16, verbose=0).history
    acc_t = float(np.mean(_outputs(transfer, x_te).argmax(-1) == y_te))
    acc_s = {name: float(np.mean(_outputs(m, x_te).argmax(-1) == y_te)) for name, m in scratch.items()}
    best_scratch = max(acc_s.values())
    # why the same model from scratch collapses: its weights with batch statistics instead of the lagging
    # moving averages (batch norm in training mode over the test digits, dropout off)
    probe = kerazoo.get("lenet5", **{**card_model, "dropout": 0.0})
    probe.set_weights(scratch["same model"].get_weights())
    batch_stats = float(np.mean(np.asarray(probe(x_te, training=True)).argmax(-1) == y_te))

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1, 1.25, 1]})
    grid = np.concatenate([np.concatenate(list(x_te[r * 8:(r + 1) * 8]), axis=1) for r in range(3)])
    axes[0].imshow(grid, cmap="gray")
    axes[0].set_title("scikit-learn digits, laid out like MNIST")
    axes[0].axis("off")
    ax = axes[1]
    val_t = hist_t["head"]["val_accuracy"] + hist_t.get("finetune", {}).get("val_accuracy", [])
    ax.plot(range(1, len(val_t) + 1), val_t, "o-", color="#1f77b4", label="fine-tuned lenet5.mnist")
    for (name, hist), style, colour in zip(hist_s.items(), ("s--", "^:"), ("#ff7f0e", "#2ca02c")):
        label = f"from scratch, {name}"
        curve = hist["val_accuracy"]
        if name == "same model" and max(curve) - curve[-1] > 0.1:  # it peaks, then falls: say why, measured
            label += (f": falls as its batch-norm moving averages lag the fast-changing weights\n({-(-len(few) // 16)} "
                      f"steps per epoch); with batch statistics its final weights score {batch_stats:.3f}")
        ax.plot(range(1, len(curve) + 1), curve, style, color=colour, label=label)
    ax.axvline(head_epochs + 0.5, color="gray", lw=0.8, ls="-")
    ax.text(head_epochs + 0.3, 1.0, "head only ", ha="right", va="top", fontsize=8, color="dimgray")
    ax.text(head_epochs + 0.7, 1.0, " backbone unfrozen (lr / 10)", ha="left", va="top", fontsize=8, color="dimgray")
    ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1.04), title=f"{10 * per_class} training digits, same budget")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, frameon=False)
    bars = [zero_shot, acc_t, *acc_s.values()]
    axes[2].bar(["pretrained\n(no training)", "fine-tuned", "scratch", "scratch\nno batch norm"], bars,
                color=["#999", "#1f77b4", "#ff7f0e", "#2ca02c"])
    axes[2].set(ylim=(0, 1.1), title="accuracy on held-out digits")
    for j, v in enumerate(bars):
        axes[2].text(j, v + 0.02, f"{v:.3f}", ha="center")
    fig.tight_layout()
    fig.savefig(out / "transfer.png", dpi=110)
    plt.close(fig)
    return {"digits_test_examples": int(len(y_te)), "lenet5_mnist_zero_shot_accuracy": zero_shot,
            "train_examples": int(len(few)), "epochs": head_epochs + tune_epochs,
            "finetuned_accuracy": acc_t, "scratch_accuracy": acc_s["same model"],
            "scratch_without_batch_norm_accuracy": acc_s["without batch norm"], "transfer_margin": acc_t - best_scratch,
            "scratch_batch_statistics_accuracy": batch_stats,
            "finetune_seconds": round(transfer_s, 1)}


def _own_data_section(out: Path, quick: bool) -> dict:
    """`lenet5.mnist` fine-tuned on a folder of letters the demo writes (PNG/JPEG, several sizes and colour
    modes, one subfolder per class), as `kerazoo finetune lenet5.mnist --data FOLDER` would; the artifact goes
    to `out/models` (not the user store) and reads letters it never saw, drawn with another seed."""
    import shutil

    from kerazoo.data import folders
    from kerazoo.testing import letter_images
    from kerazoo.training.finetune import finetune_data

    folder, new = out / "my-letters", out / "new-letters"
    for path in (folder, new):
        shutil.rmtree(path, ignore_errors=True)
    letter_images(folder, LETTERS, per_class=12 if quick else 30, seed=0)
    unseen = letter_images(new, LETTERS, per_class=2, seed=99)
    schedule = {"head_epochs": 6, "finetune_epochs": 4, "learning_rate": 3e-3, "batch_size": 8} if quick else {}
    result = finetune_data("lenet5.mnist", folder, tag="my-letters", destination=out / "models", overwrite=True,
                           baseline=True, output=out / "my-letters-run", verbose=0, **schedule)
    model = kerazoo.get("lenet5", weights=result.artifact)  # an artifact folder, loaded (and verified) by path
    x = folders.read_images(unseen, like=model)
    probs = model.predict(x, verbose=0)
    truth = [p.parent.name for p in unseen]
    said = [result.class_names[i] for i in probs.argmax(-1)]

    plt = pyplot()
    fig, axes = plt.subplots(1, len(unseen), figsize=(1.3 * len(unseen), 1.9))
    for ax, image, t, s, p in zip(axes, x, truth, said, probs.max(-1)):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{s} {p:.2f}", fontsize=9, color="black" if s == t else "red")
        ax.axis("off")
    fig.suptitle("lenet5.my-letters on letters it never saw (as read_image gives them: uint8 28x28)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "my_letters.png", dpi=110)
    plt.close(fig)
    card = artifacts.read_card(result.artifact)
    return {"folder": folder.name, "examples": card["data"]["examples"], "classes": result.class_names,
            "formats": sorted({p.suffix for p in folder.rglob("*.*")}), "val_accuracy": result.metrics["val_accuracy"],
            "scratch_val_accuracy": result.baseline["val_accuracy"], "unseen_accuracy": float(np.mean(
                np.array(said) == np.array(truth))), "artifact": str(result.artifact.relative_to(out)),
            "run": str(result.output.relative_to(out)), "source_sha256": card["source"]["model_keras_sha256"]}


def _text_section() -> dict:
    rows = {}
    for name in kerazoo.list_models("imdb_*", pretrained=True):
        model = kerazoo.get(name)
        scores = _outputs(model, SENTENCES, compiled=True).ravel()
        rows[name] = [float(s) for s in scores]
    return rows


def _dates_section(out: Path) -> dict:
    names = kerazoo.list_models("seq2seq_attention", pretrained=True)
    if not names:
        return {}
    from kerazoo.models import seq2seq

    import tensorflow as tf

    model = kerazoo.get(names[0])
    served = kerazoo.load_saved_model(names[0]).signatures["serving_default"]  # verified, then opened
    in_graph = [t.decode() for t in served(tf.constant(DATES))["translation"].numpy()]
    results = {}
    for i, (text, graph_text) in enumerate(zip(DATES, in_graph)):
        translation = model.translate(text, beam_width=3)
        seq2seq.plot_attention(translation, out / f"attention_{i}.png")
        results[text] = {"beam3": translation.text, "savedmodel_greedy": graph_text}
    return results


def _words_section(out: Path) -> dict:
    if "word2vec.imdb" not in kerazoo.list_models("word2vec", pretrained=True):
        return {}
    from kerazoo.models.word2vec import PROBE_WORDS

    vectors = kerazoo.get("word2vec.imdb").word_vectors()
    words = [w for w in PROBE_WORDS if w in vectors][:6]
    vectors.plot_neighbours(words, out / "neighbours.png", k=6, title="word2vec.imdb: nearest neighbours")
    return {w: [n for n, _ in vectors.most_similar(w, 6)] for w in words}


def _gan_section(out: Path) -> dict:
    if "dcgan.mnist" not in kerazoo.list_models("dcgan", pretrained=True):
        return {}
    from kerazoo.models.dcgan import SAMPLE_SEED, plot_image_grid, to_pixels

    gan = kerazoo.get("dcgan.mnist")
    card = kerazoo.describe("dcgan")["weights"]["mnist"]
    # the first of the 10,000 samples (latent seed SAMPLE_SEED) whose LeNet-5 FID and score are on the card
    samples = gan.sample(1000, seed=SAMPLE_SEED)
    fid = card["metrics"].get("test_lenet_fid")
    plot_image_grid(samples[:64], out / "dcgan_samples.png",
                    title=f"dcgan.mnist: the first 64 of the samples scored on its card (LeNet-FID {fid:.1f})"
                    if fid is not None else "dcgan.mnist: 64 samples")
    read = _outputs(kerazoo.get("lenet5.mnist"), to_pixels(samples)[..., 0])
    counts = np.bincount(read.argmax(-1), minlength=10)
    return {"lenet5_reads_1000_samples_as": counts.tolist(), "mean_confidence": float(read.max(-1).mean()),
            "card_lenet_fid": fid, "card_lenet_score": card["metrics"].get("test_lenet_score"),
            "epochs_run": card.get("epochs_run")}


def _cards() -> list[dict]:
    rows = []
    for name in kerazoo.list_models(pretrained=True):
        arch, tag = name.split(".", 1)
        card = kerazoo.describe(arch)["weights"][tag]
        rows.append({"artifact": name, "data": card["dataset"], "params": card["num_params"],
                     "metrics": {k: round(v, 4) for k, v in card["metrics"].items()}})
    return rows


def run_demo(output: str | Path = "kerazoo-demo", *, data_dir=None, quick: bool = False) -> Path:
    """Runs the tour and writes `report.md`, `report.html`, `results.json` and PNGs to `output`."""
    out = check_writable(output, "--output")
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results: dict = {"shipped": kerazoo.list_models(pretrained=True)}
    print(f"kerazoo demo: shipped weights {', '.join(results['shipped']) or 'none'}")
    if "lenet5.mnist" in results["shipped"]:
        print("1-2. lenet5.mnist on scikit-learn's real digits, then transfer vs scratch ...")
        results["digits"] = _digits_section(out, quick)
        print("2b. fine-tuning on a folder of letter images (your own data) ...")
        results["own_data"] = _own_data_section(out, quick)
        if data_dir:
            results["mnist_test"] = kerazoo.evaluate("lenet5", weights="mnist", data_dir=data_dir)
    print("3. sentiment of raw sentences ...")
    results["sentiment"] = _text_section()
    print("4. dates with attention ...")
    results["dates"] = _dates_section(out)
    print("5. word vectors ...")
    results["words"] = _words_section(out)
    print("6. generated digits ...")
    results["gan"] = _gan_section(out)
    results["artifacts"] = _cards()
    results["seconds"] = round(time.time() - started, 1)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    report = _report(results)
    (out / "report.md").write_text(report)
    (out / "report.html").write_text(_html(report, out))
    print(report)
    print(f"\nEverything is in {out.resolve()} (report.md, report.html, results.json, *.png)")
    return out


def _report(r: dict) -> str:
    lines = ["# kerazoo demo", "", f"Shipped weights: {', '.join(r['shipped']) or 'none'}. Ran in {r['seconds']} s.", ""]
    if "digits" in r:
        d = r["digits"]
        lines += ["## LeNet-5 on real digits it never saw", "",
                  f"`lenet5.mnist` (trained on MNIST) classifies {d['digits_test_examples']} held-out scikit-learn "
                  f"digits (8x8 scans resized to 20x20 in a 28x28 frame, as MNIST) with accuracy **{d['lenet5_mnist_zero_shot_accuracy']:.3f}** "
                  "without any training on them.", "",
                  f"Transfer with {d['train_examples']} training digits and {d['epochs']} epochs: fine-tuned "
                  f"**{d['finetuned_accuracy']:.3f}** vs from scratch **{d['scratch_accuracy']:.3f}** (the same "
                  f"model) and **{d['scratch_without_batch_norm_accuracy']:.3f}** (without batch norm, whose "
                  f"averages lag on so few steps: with batch statistics its final weights score "
                  f"{d['scratch_batch_statistics_accuracy']:.3f}): margin {d['transfer_margin']:+.3f} over the better one.", "",
                  "![digits, test accuracy per epoch of fine-tuning and training from scratch, final accuracies](transfer.png)", ""]
        if "own_data" in r:
            o = r["own_data"]
            lines += ["## Your own data: a folder of letters", "",
                      f"The demo wrote {sum(o['examples'].values())} letter images ({', '.join(o['classes'])}; "
                      f"{', '.join(o['formats'])} files of several sizes and colour modes) into `{o['folder']}/`, one "
                      "subfolder per class, as your own folder would be, and fine-tuned `lenet5.mnist` on it: "
                      f"`kerazoo.finetune(\"lenet5.mnist\", data=\"{o['folder']}\", baseline=True)` (the CLI's "
                      f"`kerazoo finetune lenet5.mnist --data {o['folder']} --baseline`). On "
                      f"{o['examples']['validation']} held-out images: **{o['val_accuracy']:.3f}** accuracy, against "
                      f"**{o['scratch_val_accuracy']:.3f}** for the same architecture trained from scratch on the same images and epochs. The artifact "
                      f"`{o['artifact']}` (its card names the classes, the metrics, the preprocessing and "
                      f"`lenet5.mnist`'s sha256 `{o['source_sha256'][:12]}...`) read {o['unseen_accuracy']:.0%} of "
                      "letters drawn afresh correctly (`kerazoo.data.folders.read_images(paths, like=model)`):", "",
                      "![my letters](my_letters.png)", "",
                      f"![learning curves]({o['run']}/learning_curves.png)", ""]
        if "mnist_test" in r:
            lines += [f"On the official MNIST test set: error {100 * r['mnist_test']['test_error']:.2f}%.", ""]
    lines += ["## Sentiment of raw sentences", ""]
    if r["sentiment"]:
        names = list(r["sentiment"])
        lines += ["| sentence | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for i, s in enumerate(SENTENCES):
            lines.append(f"| {s} | " + " | ".join(f"{r['sentiment'][n][i]:.2f}" for n in names) + " |")
    else:
        lines.append("No IMDB artifact is shipped in this version.")
    lines += ["", "## Dates with attention", ""]
    if r["dates"]:
        lines += [f"`seq2seq_attention.dates` (trained on generated dates of {DATE_RANGE}) with beam search (width 3) "
                  "in Python, and greedy decoding inside its SavedModel (what TF Serving would run):", "", "| written | beam 3 | SavedModel |", "|---|---|---|"]
        lines += [f"| {k} | `{v['beam3']}` | `{v['savedmodel_greedy']}` |" for k, v in r["dates"].items()]
        lines += [""] + [f"![attention of the translation of '{k}'](attention_{i}.png)" for i, k in enumerate(r["dates"])]
    else:
        lines.append("No date-translation artifact is shipped in this version.")
    if r.get("words"):
        lines += ["", "## Word vectors", "",
                  "`word2vec.imdb` (skip-gram on IMDB's training and unlabelled reviews), nearest neighbours:", ""]
        lines += [f"- **{w}**: {', '.join(ns)}" for w, ns in r["words"].items()] + ["", "![the words and their nearest neighbours on two principal axes](neighbours.png)"]
    if r.get("gan"):
        g = r["gan"]
        scored = (f" They are the first of the 10,000 samples its card scores: LeNet-5 FID **{g['card_lenet_fid']:.1f}** "
                  f"and LeNet-5 score **{g['card_lenet_score']:.2f}** against the 10,000 MNIST test digits (real "
                  "training digits: 0.22 and 9.84)." if g.get("card_lenet_fid") is not None else "")
        lines += ["", "## Generated digits", "", "`dcgan.mnist` samples; `lenet5.mnist` reads the first 1,000 as digits "
                  f"0-9: {g['lenet5_reads_1000_samples_as']} (mean confidence {g['mean_confidence']:.3f}).{scored}", "",
                  "![64 generated digits](dcgan_samples.png)"]
    if r.get("artifacts"):
        lines += ["", "## Shipped artifacts (metrics from their cards, measured on held-out data)", "",
                  "| artifact | data | parameters | metrics |", "|---|---|---|---|"]
        lines += [f"| `{a['artifact']}` | {a['data']} | {a['params']:,} | "
                  + ", ".join(f"{k}={v}" for k, v in a["metrics"].items()) + " |" for a in r["artifacts"]]
    return "\n".join(lines) + "\n"


def _inline(text: str) -> str:
    """Markdown's `code` and **bold** as HTML, the rest escaped."""
    import re

    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)


STYLE = """
body { font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; background: #fff;
       max-width: 1060px; margin: 2em auto; padding: 0 1.2em; }
h1 { font-size: 1.9em; margin-bottom: .2em; }
h2 { font-size: 1.35em; margin-top: 2.2em; padding-bottom: .2em; border-bottom: 1px solid #e3e3e3; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f3f4f6;
       padding: .1em .35em; border-radius: 4px; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
th, td { border: 1px solid #dcdcdc; padding: .4em .7em; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
tbody tr:nth-child(even) { background: #fafafa; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
ul { padding-left: 1.4em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: .8em; align-items: start; }
.gallery img { width: 100%; }
"""


def _html(markdown: str, out: Path) -> str:
    """The report as one valid HTML page: headings, paragraphs, lists, tables and the PNGs (with alt text)."""
    import re

    body: list[str] = []
    block: list[str] = []  # consecutive lines of one table, list or run of images
    kind = None

    def flush():
        nonlocal kind
        if kind == "table":
            rows = [[c.strip() for c in line.strip("|").split("|")] for line in block if not set(line) <= set("|-: ")]
            head, *rest = rows

            def cell(c):
                numeric = re.fullmatch(r"-?[\d.,]+ ?%?", c) is not None
                return f"<td class='number'>{_inline(c)}</td>" if numeric else f"<td>{_inline(c)}</td>"

            body.append("<table>\n<thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead>\n<tbody>\n"
                        + "\n".join("<tr>" + "".join(cell(c) for c in r) + "</tr>" for r in rest) + "\n</tbody>\n</table>")
        elif kind == "list":
            body.append("<ul>\n" + "\n".join(f"<li>{_inline(line[2:])}</li>" for line in block) + "\n</ul>")
        elif kind == "images":
            figures = []
            for line in block:
                alt, src = re.fullmatch(r"!\[(.*)\]\((.*)\)", line.strip()).groups()
                figures.append(f'<figure><img src="{html.escape(src)}" alt="{html.escape(alt)}" loading="lazy"></figure>')
            body.append(("<div class='gallery'>\n" if len(figures) > 1 else "") + "\n".join(figures)
                        + ("\n</div>" if len(figures) > 1 else ""))
        block.clear()
        kind = None

    for line in markdown.splitlines():
        this = ("table" if line.startswith("|") else "list" if line.startswith("- ")
                else "images" if line.startswith("![") else None)
        if this != kind:
            flush()
        if this:
            kind = this
            block.append(line)
        elif line.startswith("# "):
            body.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush()
    return ("<!doctype html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>\n<title>kerazoo demo</title>\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n")

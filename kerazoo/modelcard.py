"""Hub model cards: the YAML front matter and the intended-use and limitations sections of an
artifact's `README.md`, rendered from its `card.json`.

The Hugging Face Hub reads a model repository's `README.md` as its model card: a YAML block between
`---` lines (https://huggingface.co/docs/hub/model-cards), then Markdown. kerazoo writes
`library_name`, `license`, `tags`, `datasets` (the Hub's ids of the data sets kerazoo reads),
`pipeline_tag`, `base_model` for a fine-tune whose source has a Hub repository, and `model-index`:
every held-out metric of the card with the split it was measured on. `huggingface_hub.ModelCard`
parses what is written here (tests/test_mirrors.py). Importing this module imports only PyYAML.
"""
from __future__ import annotations

import json

import yaml

__all__ = ["LIBRARY_NAME", "LICENSE", "HUB_DATASETS", "PIPELINE_TAGS", "front_matter", "use_and_limitations",
           "read_front_matter", "mirror_readme"]

LIBRARY_NAME = "kerazoo"  # the files need kerazoo's registered layers (or its SavedModel) to load
LICENSE = "apache-2.0"    # the package's licence (setup.cfg), which the weights it trains are released under
# kerazoo's data set names -> the same data on the Hub (kerazoo reads the original files; these are their Hub ids)
HUB_DATASETS = {"mnist": "ylecun/mnist", "fashion_mnist": "zalando-datasets/fashion_mnist",
                "cifar10": "uoft-cs/cifar10", "imdb": "stanfordnlp/imdb"}
DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "imdb": "IMDB (aclImdb)",
                 "dates": "generated date strings (kerazoo.data.dates)", "digits": "scikit-learn digits"}
# a zoo config's `task:` -> the Hub's pipeline tag for what the model does with its input
PIPELINE_TAGS = {"image-classification": "image-classification", "text-classification": "text-classification",
                 "translation": "translation", "image-generation": "unconditional-image-generation",
                 "word-embedding": "feature-extraction", "reconstruction": "image-to-image"}
# what a data set's examples are, for the limitations section (inputs unlike these were not measured)
DATA_LIMITS = {
    "mnist": "MNIST's handwritten digits: centred, size-normalised, light strokes on a dark 28x28 ground. Other "
             "handwriting, scans, dark-on-light images and symbols that are not digits were not measured",
    "imdb": "English movie reviews from IMDB, strongly positive or negative (at most 30 per film). Other domains, "
            "other languages and neutral or mixed opinions were not measured; text past the model's sequence "
            "length is cut",
    "dates": "date strings generated in about 280 English formats (and non-dates). Dates inside longer text, other "
             "languages and other calendars were not measured",
}


def _dataset(card: dict) -> str:
    return str(card.get("dataset") or "")


def _is_user_data(card: dict) -> bool:
    return "source" in card or _dataset(card) not in DATASET_NAMES


def _metric_type(key: str) -> str:
    for prefix in ("test_", "val_", "validation_"):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _model_index(card: dict, task: str | None) -> list[dict]:
    dataset = _dataset(card)
    hub_id = HUB_DATASETS.get(dataset)
    metrics = [{"type": _metric_type(k), "name": k, "value": float(v)}
               for k, v in card.get("metrics", {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return [{"name": card["name"], "results": [{
        "task": {"type": PIPELINE_TAGS.get(task, task or "other")},
        "dataset": {"name": DATASET_NAMES.get(dataset, dataset or "unnamed"),
                    "type": hub_id or ("custom" if _is_user_data(card) else dataset), "split": str(card.get("split"))},
        "metrics": metrics}]}]


def metadata(card: dict, *, task: str | None = None, base_model: str | None = None) -> dict:
    """The Hub metadata of an artifact (the front matter as a dict).

    Args:
      card: the artifact's parsed `card.json`.
      task: the zoo config's task (default: the card's `task`, which exports record).
      base_model: the Hub repository (`ORG/REPO`) of the artifact a fine-tune started from, when it
        has one; never an artifact name, which the Hub would not resolve.
    """
    task = task or card.get("task")
    meta = {"library_name": LIBRARY_NAME, "license": card.get("license", LICENSE)}
    tags = ["kerazoo", "keras", "tensorflow", str(card.get("arch", card["name"].split(".")[0]))]
    tags += [t for t in (task, "fine-tuned" if "source" in card else None) if t and t not in tags]
    meta["tags"] = tags
    if HUB_DATASETS.get(_dataset(card)):
        meta["datasets"] = [HUB_DATASETS[_dataset(card)]]
    if task in PIPELINE_TAGS:
        meta["pipeline_tag"] = PIPELINE_TAGS[task]
    if base_model:
        meta["base_model"] = base_model
        meta["base_model_relation"] = "finetune"
    meta["model-index"] = _model_index(card, task)
    return meta


def _yaml_block(meta: dict) -> str:
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100) + "---\n\n"


def front_matter(card: dict, *, task: str | None = None, base_model: str | None = None) -> str:
    """The YAML block (`---` ... `---`) an artifact's README.md opens with."""
    return _yaml_block(metadata(card, task=task, base_model=base_model))


def use_and_limitations(card: dict) -> str:
    """The README's `Intended use` and `Limitations` sections, from what the card says was measured."""
    name, dataset = card["name"], _dataset(card)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in card.get("metrics", {}).items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool))
    if "source" in card:
        source = card["source"].get("name") or card["source"].get("path")
        use = (f"A fine-tune of `{source}` on the user's data ({dataset}), for the classes it lists "
               f"(`class_names` in card.json).")
        held = json.dumps(card.get("data", {}).get("held_out", {}))
        data_limit = (f"It was measured on the held-out examples of that data only ({held}); a few held-out "
                      "examples give wide uncertainty, so check it on more of your own before relying on it")
    else:
        use = (f"Research, teaching and baselines: the classic `{card.get('arch', name)}` architecture trained by "
               f"kerazoo's recipe on {DATASET_NAMES.get(dataset, dataset)}, to reproduce, compare against, or "
               "fine-tune on your own data (`kerazoo finetune`).")
        data_limit = (f"It learnt from {DATA_LIMITS[dataset]}" if dataset in DATA_LIMITS
                      else f"It learnt from {DATASET_NAMES.get(dataset, dataset)} only; other inputs were not measured")
    return f"""
## Intended use

{use} It takes {card.get('input', 'the inputs its card describes')}; `kerazoo.get("{name}")` loads it offline after
verifying every file.

## Limitations

- The figures above were measured on the `{card.get('split')}` split only{f' ({shown})' if shown else ''}; they
  say nothing of data drawn differently.
- {data_limit}.
- It is not meant for decisions about people; whatever the training data over- or under-represent, the model
  inherits. The weights are released under the kerazoo package's licence ({LICENSE}); the training data keep
  their own terms.
"""


def read_front_matter(text: str) -> dict:
    """The metadata of a README's YAML front matter (`{}` if it has none)."""
    if not text.startswith("---\n") or "\n---\n" not in text[3:]:
        return {}
    meta = yaml.safe_load(text[4:text.index("\n---\n", 3)])
    return meta if isinstance(meta, dict) else {}


def mirror_readme(cards: list[dict], readmes: dict[str, str]) -> str:
    """The `README.md` at a mirror's root (a Hub repository's model card): the one artifact's own card
    README when the mirror holds one, else front matter merging every artifact's and a table of them.

    Args:
      cards: the parsed `card.json` of every artifact in the mirror.
      readmes: `{name: README.md text}` of each (the one-artifact case returns it unchanged).
    """
    if len(cards) == 1:
        return readmes[cards[0]["name"]]
    cards = sorted(cards, key=lambda c: c["name"])
    metas = [read_front_matter(readmes.get(c["name"], "")) or metadata(c) for c in cards]
    merged = {"library_name": LIBRARY_NAME, "license": LICENSE,
              "tags": list(dict.fromkeys(t for m in metas for t in m.get("tags", []))),
              "datasets": list(dict.fromkeys(d for m in metas for d in m.get("datasets", [])))}
    merged = {k: v for k, v in merged.items() if v}
    merged["model-index"] = [entry for m in metas for entry in m.get("model-index", [])]
    rows = "\n".join(f"| [`{c['name']}`]({c['name']}/README.md) | {DATASET_NAMES.get(_dataset(c), _dataset(c))} | "
                     + ", ".join(f"{k} {v:.4f}" for k, v in list(c.get("metrics", {}).items())[:3]
                                 if isinstance(v, (int, float))) + " |" for c in cards)
    return _yaml_block(merged) + f"""# kerazoo mirror

Artifacts of kerazoo models, each in its own folder with `card.json` (data,
held-out metrics, recipe, sha256 of every file) and its README. `index.json` lists the sha256 and size of
every file; `kerazoo pull SOURCE NAME` downloads one and verifies it file by file before keeping it.

| artifact | data | held-out metrics |
|---|---|---|
{rows}
"""

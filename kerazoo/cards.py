"""The artifact card (`card.json`): its schema, the one reader every part of kerazoo uses, and the
artifact's `README.md` rendered from it (`card_readme`).

A card is read by `read_card(path)` only: the JSON is parsed, then checked against `SCHEMA`, so a
card with a field missing or of the wrong type is an `ArtifactError` naming the field (`kerazoo
list --pretrained` shows that artifact as `BROKEN`, every other artifact still works), never a
`KeyError` or `AttributeError` in whatever reads the card next.

Why JSON Schema (the `jsonschema` package) and not pydantic or dataclasses:

- A card is a JSON file that other programs read too (the README's "without kerazoo at run time"
  snippets, mirrors, a serving setup). Its contract is best written in the language-neutral form:
  `SCHEMA` is a JSON Schema (draft 2020-12) document, `json.dumps(kerazoo.cards.SCHEMA)` is a file
  any JSON Schema validator in any language can use.
- The reader returns the card as it is, a plain `dict`: nothing is coerced (pydantic's lax mode
  would turn `"62132"` into `62132` silently; its strict mode and model classes would change every
  `card["files"]` access in the code for no gain) and fields kerazoo does not know (written by a
  newer version, or added by a user) are kept.
- The errors carry the path of the field (`files['model.keras'].sha256`), which is what a user
  needs to find the damage; hand-written dataclass checks would repeat what the library does.

`jsonschema` is imported when the first card is read (about 0.1 s), so `import kerazoo` stays light.
Importing this module imports nothing but `kerazoo.errors` and the standard library.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from kerazoo import modelcard
from kerazoo.errors import ArtifactError

__all__ = ["SCHEMA", "read_card", "check_card", "card_readme"]

_NUMBER = {"type": "number"}
_NUMBERS = {"type": "object", "additionalProperties": _NUMBER}  # {"test_accuracy": 0.99, ...}
_TEXT = {"type": "string"}
_SHAPE = {"type": "array", "items": {"type": ["integer", "null"], "minimum": 0}}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://kerazoo.invalid/card.schema.json",
    "title": "kerazoo artifact card (card.json)",
    "type": "object",
    "required": ["name", "arch", "tag", "dataset", "metrics", "num_params", "model", "recipe", "files"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*\.[a-z0-9][a-z0-9_-]{0,63}$"},
        "arch": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"},
        "tag": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,63}$"},
        "dataset": _TEXT,
        "split": _TEXT,
        "metrics": _NUMBERS,
        "num_params": {"type": "integer", "minimum": 0},
        "input": _TEXT,
        "class_names": {"type": ["array", "null"], "items": _TEXT},
        "model": {"type": "object"},
        "recipe": {"type": "object"},
        "seed": {"type": ["integer", "null"]},
        "epochs_run": {"type": ["integer", "null"], "minimum": 0},
        "train_seconds": {"type": ["number", "null"]},
        "versions": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
        "records": {"type": "object"},
        "notes": _TEXT,
        "files": {  # every file of the artifact but card.json, card.sha256 and README.md, inside its folder
            "type": "object",
            "propertyNames": {"pattern": r"^(?!/)(?!.*(^|/)\.\.?(/|$))[^\\\x00]+$"},
            "additionalProperties": {
                "type": "object", "required": ["bytes", "sha256"],
                "properties": {"bytes": {"type": "integer", "minimum": 0},
                               "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}},
        "formats": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "oneOf": [{"required": ["file"]}, {"required": ["unsupported"]}],
                "properties": {"file": _TEXT, "unsupported": _TEXT, "bytes": {"type": "integer", "minimum": 0},
                               "runtime": _TEXT, "metrics": _NUMBERS, "agreement": _NUMBERS,
                               "delta_vs_float": _NUMBERS,
                               "input": {"type": "object", "properties": {"name": _TEXT, "dtype": _TEXT,
                                                                          "shape": _SHAPE}}}}},
        "formats_measured_on": _TEXT,
        "core": {"type": "object", "properties": {
            "input": _TEXT, "tokenizer": _TEXT, "masked_padding": {"type": "boolean"},
            "raw_input": {"type": "object", "required": ["dtype", "shape"],
                          "properties": {"name": _TEXT, "dtype": _TEXT, "shape": _SHAPE}}}},
        "source": {"type": "object"},
        "data": {"type": "object"},
        "preprocessing": {"type": "object"},
        "finetune": {"type": "object"},
    },
}


def read_card(path: str | Path) -> dict:
    """The card at `path` (a `card.json` file), parsed and checked against `SCHEMA`.

    Raises:
      ArtifactError: the file is missing, not UTF-8 JSON, or not a card (the message names the file
        and the first field that is wrong, with what is accepted there).
    """
    path = Path(path)
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing: not an artifact folder") from None
    except (NotADirectoryError, IsADirectoryError):
        raise ArtifactError(f"{path.parent} is not an artifact folder (a folder holding card.json)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{path} is not valid JSON ({e}); the artifact is damaged") from None
    except RecursionError:
        raise ArtifactError(f"{path} is not valid JSON (nested too deeply); the artifact is damaged") from None
    check_card(card, str(path))
    return card


def check_card(card, where: str = "card.json") -> None:
    """Raises `ArtifactError` naming the first field of `card` that `SCHEMA` does not accept."""
    import jsonschema

    errors = list(_validator().iter_errors(card))
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors)
    raise ArtifactError(f"{where} is not a valid artifact card: {_field(error)} {_problem(error)}; the artifact is "
                        "damaged or was edited (kerazoo export writes every field)")


@functools.cache
def _validator():
    import jsonschema

    return jsonschema.Draft202012Validator(SCHEMA)


def _field(error) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" if str(p).isidentifier() else f"[{str(p)!r}]"
                   for p in error.absolute_path).lstrip(".")
    if error.validator == "required":
        missing = next((k for k in error.validator_value if k not in error.instance), "?")
        return f"field `{f'{path}.' if path else ''}{missing}`"
    if "propertyNames" in error.schema_path:
        return f"`{path}` key {_short(error.instance)}"
    return f"field `{path}`" if path else "the card"


def _problem(error) -> str:
    kind, expected = error.validator, error.validator_value
    if "propertyNames" in error.schema_path:
        return "is not a relative path inside the artifact folder"
    if kind == "required":
        return "is missing"
    if kind == "type":
        names = expected if isinstance(expected, list) else [expected]
        return f"should be {' or '.join(_JSON_NAMES.get(n, n) for n in names)}, not {_json_type(error.instance)}"
    if kind == "pattern":
        return f"is {_short(error.instance)}, which does not match {expected}"
    if kind == "minimum":
        return f"is {_short(error.instance)}; accepted: {expected} or more"
    if kind == "oneOf":
        return "should name its `file` or why it is `unsupported` (one of the two)"
    return error.message[:200]


_JSON_NAMES = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "null"}


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {_short(value)}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    return "a list" if isinstance(value, list) else "an object"


def _short(value, limit: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, float) or value == value else "NaN"
    return text if len(text) <= limit else text[:limit - 3] + "..."


# === The artifact's README.md ===

def _formats_readme(card: dict) -> str:
    """The README's table of exported formats (LiteRT, ONNX, ...), from the card's `formats`."""
    formats = card.get("formats", {})
    if set(formats) <= {"saved_model"}:
        return ""

    def metrics(entry):
        shown = ", ".join(f"{k} {v:.4f}" for k, v in entry.get("metrics", {}).items())
        delta = ", ".join(f"{v:+.4f}" for v in entry.get("delta_vs_float", {}).values())
        return shown + (f" ({delta} vs float)" if delta else "")

    def agreement(entry):
        a = entry.get("agreement")
        if a is None:
            return "reference"
        parts = [f"max abs diff {a['max_abs_diff']:.1e}" if "max_abs_diff" in a else "",
                 f"same top-1 {100 * a['top1']:.2f} %" if "top1" in a else "",
                 f"equal {100 * a['equal']:.2f} %" if "equal" in a else ""]
        return ", ".join(p for p in parts if p) + f" (n={a['n']:,})"

    rows = "\n".join(f"| `{f}` | not exported: {e['unsupported']} | | | | |" if "unsupported" in e else
                     f"| `{f}` | `{e['file']}` | {e.get('bytes', 0):,} | {e.get('runtime', '')} | {metrics(e)} | "
                     f"{agreement(e)} |" for f, e in formats.items())
    core = card.get("core", {})
    tokenizer = (" The files take token ids: `kerazoo.text.Tokenizer.from_folder(folder)` (pure Python) makes them "
                 "from raw strings (`tokenizer.json`, `vocabulary.txt`), as the runner does.") if core.get("tokenizer") else ""
    quantization = next((e["quantization"] for e in formats.values() if "quantization" in e), "")
    return f"""
## Formats

`kerazoo.get("{card['name']}", format=F)` gives a runner of format F (raw inputs in, NumPy out), opened after
its files verify. Measured on {card.get('formats_measured_on', 'nothing')}, each by its own runtime; the
agreement is with the SavedModel's outputs on the same inputs. LiteRT/ONNX input: {core.get('input', '')}.{tokenizer}
{f"int8: {quantization}." if quantization else ""}

| format | file | bytes | runtime | held-out metrics | agreement with the SavedModel |
|---|---|---|---|---|---|
{rows}
"""


def _finetune_lines(card: dict) -> str:
    """README lines of a model fine-tuned on the user's data: where it started, how its inputs were read."""
    if "source" not in card:
        return ""
    source, data, steps = card["source"], card.get("data", {}), card.get("finetune", {})
    lines = [f"- Fine-tuned from `{source.get('name') or source.get('path')}` (card sha256 "
             f"`{source.get('card_sha256', '-')}`, model.keras sha256 `{source.get('model_keras_sha256')}`).",
             f"- Classes: {', '.join(f'{k} ({n})' for k, n in data.get('classes', {}).items())}; examples "
             f"{json.dumps(data.get('examples', {}))}; held out: {json.dumps(data.get('held_out', {}))} (the files: "
             "`data.held_out_examples` in card.json)."]
    lines += [f"- Preprocessing, {k}: {v}" for k, v in card.get("preprocessing", {}).items()]
    if steps.get("baseline_from_scratch"):
        lines.append(f"- Same architecture from scratch, same data and epochs: `{json.dumps(steps['baseline_from_scratch'])}`.")
    return "".join(line + "\n" for line in lines)


def card_readme(card: dict, *, task: str | None = None, base_model: str | None = None) -> str:
    """The `README.md` of an artifact, rendered from its card: Hub front matter (`kerazoo.modelcard`;
    `task` defaults to the card's, `base_model` is a fine-tune's source on the Hub), then the card."""
    metrics = "\n".join(f"| {k} | {v:.4f} |" for k, v in card["metrics"].items())
    files = "\n".join(f"| `{k}` | {v['bytes']:,} | `{v['sha256'][:16]}...` |" for k, v in card["files"].items())
    r = card["recipe"]
    records = "".join(f"- Training record `{k}`: `{json.dumps(v)}`\n" for k, v in card.get("records", {}).items())
    records += _finetune_lines(card)
    return modelcard.front_matter(card, task=task, base_model=base_model) + f"""# {card['name']}

`kerazoo.get("{card['name']}")` loads `model.keras` offline (every file sha256-checked against this card);
`kerazoo.load_saved_model("{card['name']}")` verifies and opens the SavedModel.

- Input: {card['input']} (preprocessing is inside the model).
- Data: {card['dataset']}, metrics on the held-out `{card['split']}` split.
- Parameters: {card['num_params']:,}. Seed {card['seed']}, {card['epochs_run']} epochs, {card['train_seconds']} s on the
  training machine; TensorFlow {card['versions']['tensorflow']}, Keras {card['versions']['keras']}.
- Recipe: {r['optimizer']} lr={r['learning_rate']} batch={r['batch_size']} epochs<={r['epochs']}; builder arguments
  `{json.dumps(card['model'])}`.
{records}
{card.get('notes', '')}

| metric | value |
|---|---|
{metrics}
{modelcard.use_and_limitations(card)}{_formats_readme(card)}
| file | bytes | sha256 |
|---|---|---|
{files}
"""

"""Model cards the Hub understands (issue 28): every artifact's README.md opens with YAML front matter
(library_name, license, datasets, model-index, tags, base_model for a fine-tune whose source is on the Hub),
rendered from card.json, and says what the model is for and what it was not measured on. huggingface_hub's own
`ModelCard` parses them here, as the Hub would."""
import json
import shutil
from pathlib import Path

import pytest

import kerazoo
from kerazoo import artifacts, modelcard
from kerazoo.config import load_config

hf = pytest.importorskip("huggingface_hub")  # the kerazoo[hub] extra (in kerazoo[test])

SHIPPED = artifacts.shipped_dir() / "lenet5.mnist"


def _copy(store: Path, name: str, **card_fields) -> Path:
    folder = store / name
    shutil.copytree(SHIPPED, folder)
    card = json.loads((folder / "card.json").read_text())
    card.update(name=name, tag=name.split(".")[1], **card_fields)
    (folder / "card.json").write_text(json.dumps(card, indent=2))
    (folder / "card.sha256").write_text(artifacts.sha256(folder / "card.json") + "  card.json\n")
    return folder


@pytest.mark.parametrize("name", kerazoo.list_models(pretrained=True))
def test_shipped_readmes_carry_hub_metadata_rendered_from_the_card(name):
    artifact = artifacts.find(*artifacts.split_name(name))
    card, text = artifact.card, (artifact.folder / "README.md").read_text()
    task = load_config(card["arch"]).task
    assert text == artifacts.card_readme(card, task=task), \
        "stale README: run kerazoo.exporting.render_readme(folder) on the shipped artifacts"
    parsed = hf.ModelCard(text)
    assert parsed.data.library_name == "kerazoo" and parsed.data.license == "apache-2.0"
    assert parsed.data.datasets == ([modelcard.HUB_DATASETS[card["dataset"]]] if card["dataset"] in
                                    modelcard.HUB_DATASETS else None)
    results = {r.metric_name: r.metric_value for r in parsed.data.eval_results}
    assert results == {k: v for k, v in card["metrics"].items()}
    assert {r.dataset_split for r in parsed.data.eval_results} == {card["split"]}
    assert {r.task_type for r in parsed.data.eval_results} == {modelcard.PIPELINE_TAGS[task]}
    assert "\n## Intended use\n" in text and "\n## Limitations\n" in text and parsed.data.base_model is None

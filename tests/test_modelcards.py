"""Model cards the Hub understands (issue 28): every artifact's README.md opens with YAML front matter
(library_name, license, datasets, model-index, tags, base_model for a fine-tune whose source is on the Hub),
rendered from card.json, and says what the model is for and what it was not measured on. huggingface_hub's own
`ModelCard` parses them here, as the Hub would."""
import json

import pytest
from conftest import copy_shipped

import kerazoo
from kerazoo import artifacts, modelcard
from kerazoo.registry import load_config

hf = pytest.importorskip("huggingface_hub")  # the kerazoo[hub] extra (in kerazoo[test])


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


def test_a_fine_tune_names_its_hub_base_model_only_when_it_has_one(tmp_path, monkeypatch):
    store = tmp_path / "store"
    monkeypatch.setenv("KERAZOO_MODELS", str(store))
    base = copy_shipped(store, "lenet5.base")
    entry = {"card": {"bytes": (base / "card.json").stat().st_size, "sha256": artifacts.sha256(base / "card.json")},
             "files": {}}
    (base / "card.sha256").unlink()
    (base / "mirror.json").write_text(json.dumps({"mirror": "hf://org/base@v1", "name": "lenet5.base", "entry": entry}))
    assert kerazoo.verify("lenet5.base") == {"lenet5.base": None}  # the pull's record pins its card
    held = {"validation": 16}
    copy_shipped(store, "lenet5.tuned", dataset="letters: your folder of 80 images", source={"name": "lenet5.base"},
          data={"held_out": held})
    copy_shipped(store, "lenet5.local", dataset="letters: your folder of 80 images", source={"name": "lenet5.mnist"})
    for name in ("lenet5.tuned", "lenet5.local"):
        kerazoo.push(name, tmp_path / "mirror")
    tuned = hf.ModelCard((tmp_path / "mirror" / "lenet5.tuned" / "README.md").read_text())
    assert tuned.data.base_model == "org/base" and tuned.data.base_model_relation == "finetune"
    assert "fine-tuned" in tuned.data.tags and tuned.data.datasets is None
    assert tuned.data.eval_results[0].dataset_type == "custom"
    assert json.dumps(held) in tuned.text  # the limitations name the held-out examples
    local = hf.ModelCard((tmp_path / "mirror" / "lenet5.local" / "README.md").read_text())
    assert local.data.base_model is None  # lenet5.mnist is not on the Hub: no made-up repository id

"""`hf://ORG/REPO[@REVISION]`: a mirror in a Hugging Face Hub repository, through `huggingface_hub`.

The repository holds what any mirror holds (`kerazoo.mirrors`): `index.json` at its root beside
`<arch>.<tag>/` folders, and a root `README.md` whose YAML front matter the Hub reads as the model
card (the one artifact's card README, or all of theirs merged).

- **Pull**: `index.json` is read at the revision given (branch, tag or commit; default `main`) and
  the commit it resolved to (huggingface_hub's cache keeps it in `snapshots/<commit>/`) is pinned, so
  every file comes from the same commit. Each file is fetched
  by `hf_hub_download`, whose cache resumes cut downloads, and then checked against the index like
  any mirror's. Offline (`KERAZOO_OFFLINE`, `HF_HUB_OFFLINE`), only huggingface_hub's cache is read
  (`local_files_only=True`).
- **Push**: the artifact, the updated `index.json` and the root `README.md` go up in one commit
  (`HfApi.create_commit` with `parent_commit`), so the repository never shows an index without its
  files, and a concurrent push fails instead of dropping an entry.

Authentication, the cache and the endpoint are huggingface_hub's own (`HF_TOKEN` or `hf auth login`,
`HF_HOME`, `HF_ENDPOINT`, which is read at each call here). Needs `pip install "kerazoo[hub]"`.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from kerazoo import modelcard
from kerazoo.artifacts import CARD, README
from kerazoo.errors import ArtifactError
from kerazoo.mirror_index import INDEX, empty_index, offline, publish_copy, read_index

__all__ = ["parse", "HubSource", "push"]


def _hf():
    """huggingface_hub, offline whenever kerazoo is: it reads `HF_HUB_OFFLINE` once, at import, and even a
    cache-only `hf_hub_download(local_files_only=True)` otherwise fetches `{endpoint}/api/agent-harnesses` for
    its User-Agent header (huggingface_hub 2.4), so `KERAZOO_OFFLINE=1` sets its module-level switch too."""
    try:
        import huggingface_hub
        import huggingface_hub.constants
    except ImportError:
        raise ArtifactError('hf:// mirrors need huggingface_hub: pip install "kerazoo[hub]"') from None
    if offline():
        huggingface_hub.constants.HF_HUB_OFFLINE = True
    return huggingface_hub


def parse(url: str) -> tuple[str, str | None]:
    """`"hf://org/repo@v1"` -> `("org/repo", "v1")`; anything else is an `ArtifactError`."""
    match = re.fullmatch(r"hf://([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?", str(url))
    if not match:
        raise ArtifactError(f"{url!r} is not a Hub mirror: accepted hf://ORG/REPO or hf://ORG/REPO@REVISION")
    return match.group(1), match.group(2)


def _endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


def _failure(hf, error: Exception, where: str) -> ArtifactError:
    """huggingface_hub's error about `where` as kerazoo's: the file, the mirror, and what to do."""
    if isinstance(error, (hf.errors.EntryNotFoundError, hf.errors.LocalEntryNotFoundError)) and offline():
        return ArtifactError(f"{offline()}=1 forbids the network: {where} is not in huggingface_hub's cache; unset "
                             f"{offline()} to pull it")
    if isinstance(error, hf.errors.EntryNotFoundError):
        return ArtifactError(f"{where} is missing from the repository (its index.json lists it, or a mirror's root "
                             "holds index.json)")
    if isinstance(error, hf.errors.RepositoryNotFoundError):
        return ArtifactError(f"{where}: no such repository on {_endpoint() or 'the Hub'} (or it is private: log in "
                             "with `hf auth login` or set HF_TOKEN)")
    if isinstance(error, hf.errors.RevisionNotFoundError):
        return ArtifactError(f"{where}: no such revision in the repository")
    return ArtifactError(f"{where} cannot be fetched ({type(error).__name__}: {error})")


class HubSource:
    """A mirror in a Hub repository (see the module docstring)."""

    def __init__(self, url: str):
        self.repo, self.revision = parse(url)
        self.label, self._commit = url, None

    def url(self, rel: str) -> str:
        return f"hf://{self.repo}/{rel}" + (f" (revision {self._commit or self.revision})"
                                             if self._commit or self.revision else "")

    def _download(self, rel: str) -> str:
        hf = _hf()
        try:
            return hf.hf_hub_download(self.repo, rel, revision=self._commit or self.revision, endpoint=_endpoint(),
                                      local_files_only=offline() is not None)
        except (hf.errors.EntryNotFoundError, hf.errors.RepositoryNotFoundError, hf.errors.RevisionNotFoundError,
                hf.errors.HfHubHTTPError, OSError, ConnectionError) as e:
            raise _failure(hf, e, self.url(rel)) from None

    def cached(self, rel: str) -> bool:
        hf = _hf()
        found = hf.try_to_load_from_cache(self.repo, rel, revision=self._commit or self.revision)
        return isinstance(found, str)

    def read_index(self, store: Path) -> str:
        path = Path(self._download(INDEX))  # at the revision asked; huggingface_hub remembers where a branch pointed
        if re.fullmatch(r"[0-9a-f]{40}", path.parent.name):  # its cache's snapshots/<commit>/: pin that commit
            self._commit = path.parent.name
        return path.read_text(encoding="utf-8")

    def fetch(self, rel: str, part: Path, size: int, bar) -> None:
        import shutil

        shutil.copyfile(self._download(rel), part)
        bar.update(size)


def push(folder: Path, card: dict, url: str, *, overwrite: bool = False) -> str:
    """Uploads a verified artifact to `hf://ORG/REPO[@BRANCH]` in one commit; returns the mirror's address.

    The repository is created (private) if it does not exist. Another artifact of the same name is
    replaced only with `overwrite=True`; the files of the old one that the new one lacks are deleted.
    """
    hf = _hf()
    repo, branch = parse(url)
    if offline():
        raise ArtifactError(f"{offline()}=1 forbids the network; pushing to {url} needs it")
    api, name = hf.HfApi(endpoint=_endpoint()), card["name"]
    try:
        api.create_repo(repo, exist_ok=True, private=True)
        parent = api.repo_info(repo, revision=branch).sha
        index = _remote_index(hf, repo, parent)
        with tempfile.TemporaryDirectory() as tmp:
            stage = Path(tmp) / name
            entry = publish_copy(folder, card, stage)
            old = index["artifacts"].get(name)
            if old is not None and old["card"] != entry["card"] and not overwrite:
                raise ArtifactError(f"{url} holds another {name} (card sha256 {old['card']['sha256']}, yours "
                                    f"{entry['card']['sha256']}); pass overwrite=True (CLI: --overwrite) to replace it")
            index["artifacts"] = dict(sorted({**index["artifacts"], name: entry}.items()))
            cards, readmes = {name: card}, {name: (stage / README).read_text(encoding="utf-8")}
            for other in index["artifacts"]:
                if other != name:
                    cards[other] = json.loads(Path(hf.hf_hub_download(repo, f"{other}/{CARD}", revision=parent,
                                                                      endpoint=_endpoint())).read_text())
                    readmes[other] = Path(hf.hf_hub_download(repo, f"{other}/{README}", revision=parent,
                                                             endpoint=_endpoint())).read_text(encoding="utf-8")
            operations = [hf.CommitOperationAdd(f"{name}/{rel}", str(stage / rel)) for rel in [CARD, *entry["files"]]]
            operations += [hf.CommitOperationDelete(f"{name}/{rel}") for rel in (old or {}).get("files", {})
                           if rel not in entry["files"]]
            operations += [hf.CommitOperationAdd(INDEX, (json.dumps(index, indent=2) + "\n").encode()),
                           hf.CommitOperationAdd(README, modelcard.mirror_readme(list(cards.values()),
                                                                                 readmes).encode())]
            api.create_commit(repo, operations, commit_message=f"kerazoo push {name}", revision=branch,
                              parent_commit=parent)
    except (hf.errors.HfHubHTTPError, OSError, ConnectionError) as e:
        raise ArtifactError(f"pushing {name} to {url} failed ({type(e).__name__}: {e}); the repository is unchanged "
                            "unless the commit went through") from None
    return url


def _remote_index(hf, repo: str, commit: str) -> dict:
    try:
        path = hf.hf_hub_download(repo, INDEX, revision=commit, endpoint=_endpoint())
    except hf.errors.EntryNotFoundError:
        return empty_index()
    return read_index(Path(path).read_text(encoding="utf-8"), f"hf://{repo}/{INDEX}")

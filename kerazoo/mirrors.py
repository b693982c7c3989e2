"""Mirrors: artifacts as static files, pushed to and pulled from a folder, an HTTP server or the Hub.

A mirror is `index.json` at its root (the size and sha256 of every artifact's card and files; its
format and checks: `kerazoo.mirror_index`) beside `<arch>.<tag>/` folders. Any folder, any static HTTP server (`python -m http.server`, nginx, S3, GitHub Pages) and a Hugging
Face repository (`hf://ORG/REPO`, `kerazoo.hub`) can hold one. `push(name, destination)` writes or
updates a mirror; `pull(source, name)` brings an artifact into the user store, and `kerazoo.get`
pulls from the mirrors in `$KERAZOO_MIRRORS` (whitespace- or comma-separated) an artifact it does
not have (`pull_configured`).

A pull downloads into `<store>/.downloads/` (one file per sha256, `.part` while it arrives), resumes a
cut file with an HTTP `Range` request, checks every file's size and sha256 against the index before
it is kept (a mismatch removes everything the pull downloaded and names the file, the mirror and
both hashes), then assembles the artifact with `mirror.json` (the mirror and its index entry, which
`kerazoo verify` checks the card against) and switches its name in one rename
(`kerazoo.artifacts.install`): a kill leaves the old state, and a rerun resumes the partial file.
`KERAZOO_OFFLINE=1` or `HF_HUB_OFFLINE=1` never touches the network: a pull then uses what is
already downloaded (and the index of the last online pull) and names the first missing file.
`verify(name)` checks artifacts in the stores (or a folder) against their cards, as `kerazoo verify` does.

Libraries, and why: plain HTTP goes through `requests` (already installed with TensorFlow and
tensorflow-datasets, so nothing new; streaming, `Range` requests, timeouts, connection reuse).
`pooch` was considered: it downloads a URL against a known hash into its own cache, but restarts a
cut download from zero and has no offline switch, and its cache cannot be the user store's atomic
layout; resuming on top of `requests` is the short `_HttpSource.fetch` below. The progress bar is
`tqdm` (a dependency of tensorflow-datasets and huggingface_hub already). `hf://` uses
`huggingface_hub`'s own functions (`kerazoo.hub`; the `kerazoo[hub]` extra), whose cache resumes and
honours `HF_HUB_OFFLINE`. Importing this module imports none of them.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import time
import urllib.parse
from pathlib import Path

from kerazoo import artifacts, hub, modelcard
from kerazoo.artifacts import CARD, MIRROR, README, split_name, user_dir
from kerazoo.errors import ArtifactError, WeightsError
from kerazoo.mirror_index import FORMAT, INDEX, empty_index, offline, publish_copy, read_index

__all__ = ["push", "pull", "verify", "pull_configured", "open_source", "configured", "offline", "INDEX", "FORMAT"]

CHUNK, TIMEOUT, ATTEMPTS = 1 << 16, 30, 4  # read size; seconds a connection may stall; tries per file


def configured() -> list[str]:
    """The mirrors in `$KERAZOO_MIRRORS` (folders, `http(s)://` roots, `hf://ORG/REPO[@REVISION]`), in order."""
    return os.environ.get("KERAZOO_MIRRORS", "").replace(",", " ").split()


# === Sources ===

def open_source(source: str | os.PathLike):
    """The mirror at `source`: a folder, an `http(s)://` root, or `hf://ORG/REPO[@REVISION]` (kerazoo.hub)."""
    text = str(source)
    if text.startswith("hf://"):
        return hub.HubSource(text)
    if re.match(r"https?://", text):
        return _HttpSource(text)
    if "://" in text:
        raise ArtifactError(f"mirror {text!r}: accepted sources are a folder, an http(s):// address of a mirror's root "
                            "or hf://ORG/REPO[@REVISION]")
    return _FolderSource(Path(text).expanduser())


class _FolderSource:
    """A mirror in a local (or mounted) folder: read directly, also offline."""

    def __init__(self, root: Path):
        self.root, self.label = root, str(root)

    def url(self, rel: str) -> str:
        return str(self.root / rel)

    def cached(self, rel: str) -> bool:
        return True

    def read_index(self, store: Path) -> str:
        path = self.root / INDEX
        if not path.is_file():
            raise ArtifactError(f"{path} does not exist: {self.root} is not a kerazoo mirror (`kerazoo push NAME "
                                f"{self.root}` makes one)")
        return path.read_text(encoding="utf-8")

    def fetch(self, rel: str, part: Path, size: int, bar) -> None:
        path = self.root / rel
        if not path.is_file():
            raise ArtifactError(f"{path} is missing from mirror {self.label} (its index.json lists it)")
        shutil.copyfile(path, part)
        bar.update(size)


class _HttpSource:
    """A mirror served over HTTP(S): files fetched by `requests`, a cut file resumed with `Range`."""

    def __init__(self, base: str):
        self.base, self.label = base.rstrip("/") + "/", base.rstrip("/")
        self._session = None

    @property
    def session(self):
        if self._session is None:
            import requests

            from kerazoo import __version__

            self._session = requests.Session()
            self._session.headers.update({"Accept-Encoding": "identity", "User-Agent": f"kerazoo/{__version__}"})
        return self._session

    def url(self, rel: str) -> str:
        return self.base + urllib.parse.quote(rel)

    def cached(self, rel: str) -> bool:
        return False

    def read_index(self, store: Path) -> str:
        import requests

        cache = store / ".mirrors" / f"{hashlib.sha256(self.label.encode()).hexdigest()[:16]}.json"
        if offline():
            if cache.is_file():
                return cache.read_text(encoding="utf-8")
            raise ArtifactError(f"{offline()}=1 forbids the network and the index of mirror {self.label} "
                                f"({self.url(INDEX)}) was never downloaded here; unset {offline()} to pull")
        try:
            response = self.session.get(self.url(INDEX), timeout=TIMEOUT)
        except requests.RequestException as e:
            raise ArtifactError(f"mirror {self.label} cannot be reached ({self.url(INDEX)}: {e})") from None
        if response.status_code != 200:
            raise ArtifactError(f"mirror {self.label}: {self.url(INDEX)} answered HTTP {response.status_code} "
                                f"{response.reason}; a mirror's root holds index.json (kerazoo push writes it)")
        text = response.content.decode("utf-8", errors="replace")  # JSON is UTF-8, whatever the headers say
        cache.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(cache, text)
        return text

    def fetch(self, rel: str, part: Path, size: int, bar) -> None:
        """Downloads `rel` into `part`, continuing from the bytes `part` already holds (`Range: bytes=N-`);
        a connection cut mid-file is resumed up to `ATTEMPTS` times, and what arrived is kept for a rerun."""
        import requests

        url, last = self.url(rel), None
        if offline():
            raise ArtifactError(f"{offline()}=1 forbids the network: {url} (mirror {self.label}) is not downloaded here")
        for attempt in range(ATTEMPTS):
            have = part.stat().st_size if part.exists() else 0
            if have >= size:
                return
            try:
                with self.session.get(url, headers={"Range": f"bytes={have}-"} if have else {}, stream=True,
                                      timeout=TIMEOUT) as response:
                    if response.status_code == 404:
                        raise ArtifactError(f"{url} is missing from mirror {self.label} (HTTP 404; its index.json "
                                            "lists it)")
                    if response.status_code == 416:  # what we hold no longer fits what is served: start over
                        part.unlink()
                        continue
                    if response.status_code not in (200, 206):
                        raise ArtifactError(f"{url} (mirror {self.label}) answered HTTP {response.status_code} "
                                            f"{response.reason}")
                    if response.status_code == 200 or not response.headers.get("Content-Range", "").startswith(
                            f"bytes {have}-"):
                        have = 0  # the server sent the whole file (it ignores Range): start over
                    # a cut body then ends short instead of raising, so the bytes of its last read are kept too
                    response.raw.enforce_content_length = False
                    with open(part, "r+b" if have else "wb") as f:
                        f.seek(have)
                        f.truncate()
                        for chunk in response.iter_content(CHUNK):
                            chunk = chunk[: size - have]  # never more than the index says
                            f.write(chunk)
                            have += len(chunk)
                            bar.update(len(chunk))
                            if have >= size:
                                break
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as e:
                last = e
                time.sleep(0.2 * 2 ** attempt)
        have = part.stat().st_size if part.exists() else 0
        if have < size:
            raise ArtifactError(f"{url} (mirror {self.label}): the connection broke {ATTEMPTS} times ({last}); "
                                f"{have:,} of {size:,} bytes are kept in {part} and the next pull resumes there")


# === Pull ===

def pull(source: str | os.PathLike, name: str, *, destination: str | os.PathLike | None = None,
         overwrite: bool = False, shadow: bool = False, progress: bool | None = None) -> Path:
    """Brings artifact `name` from a mirror into a store, every file verified; returns its folder.

    Args:
      source: a mirror: a folder, an `http(s)://` root, or `hf://ORG/REPO[@REVISION]`.
      name: the artifact, `ARCH.TAG` (as the mirror's index.json lists it).
      destination: the store to pull into (default: the user store, `$KERAZOO_MODELS`).
      overwrite: replace a different artifact of that name in the store.
      shadow: allow a name shipped with kerazoo when the mirror's artifact differs from the shipped one.
      progress: show a progress bar (default: when stderr is a terminal).

    Example:
      >>> kerazoo.pull("https://example.org/zoo", "alexnet_cifar.cifar10")
      >>> kerazoo.get("alexnet_cifar.cifar10")
    """
    arch, tag = split_name(name)
    if tag is None:
        raise WeightsError(f"pull takes an artifact name ARCH.TAG (e.g. lenet5.mnist); received {name!r}")
    src = open_source(source)
    store = Path(destination).expanduser() if destination is not None else user_dir()
    if _inside(store, artifacts.shipped_dir()):
        raise ArtifactError(f"{store} is the package's shipped artifacts folder, which pulls never write; pull into "
                            f"the user store ({user_dir()}) or a --destination")
    index = read_index(src.read_index(store), src.url(INDEX))
    return _pull_entry(src, index, store, name, overwrite=overwrite, shadow=shadow, progress=progress)


def _pull_entry(src, index: dict, store: Path, name: str, *, overwrite: bool = False, shadow: bool = False,
                progress: bool | None = None) -> Path:
    entry = index["artifacts"].get(name)
    if entry is None:
        listed = ", ".join(sorted(index["artifacts"])) or "nothing"
        raise ArtifactError(f"mirror {src.label} has no artifact {name}: its index.json ({src.url(INDEX)}) lists {listed}")
    here = _already_here(store, name, entry, src, overwrite=overwrite, shadow=shadow)
    return here if here is not None else _download(src, store, name, entry, progress)


def _already_here(store: Path, name: str, entry: dict, src, *, overwrite: bool, shadow: bool) -> Path | None:
    """The folder already holding the mirror's artifact (same card), or None when it must be pulled."""
    wanted = entry["card"]["sha256"]
    local = store / name
    if (local / CARD).is_file():
        mine = artifacts.sha256(local / CARD)
        if mine == wanted:
            artifacts.verify(local)  # the same card, but are the files intact?
            return local
        if not overwrite:
            raise ArtifactError(f"{local} exists and differs from {name} of mirror {src.label} (card sha256 {mine} "
                                f"here, {wanted} there); pass overwrite=True (CLI: --overwrite) to replace it")
    shipped = artifacts.shipped_dir() / name
    if store.resolve() == user_dir().resolve() and (shipped / CARD).is_file():
        if artifacts.sha256(shipped / CARD) == wanted:
            return shipped
        if not shadow and not (local / CARD).is_file():
            raise ArtifactError(f"{name} is a shipped artifact and mirror {src.label} holds another one (card sha256 "
                                f"{wanted}); pass shadow=True (CLI: --shadow) to have it take the shipped one's place")
    return None


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive `flock` on `path` (created if missing), released when the process ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _download(src, store: Path, name: str, entry: dict, progress: bool | None) -> Path:
    downloads = store / ".downloads"
    wanted = [(CARD, entry["card"]), *entry["files"].items()]
    with _locked(downloads / ".lock"):
        missing = [(rel, rec) for rel, rec in wanted  # (a same-sized file of the old version is checked later)
                   if not (downloads / rec["sha256"]).is_file() and not src.cached(f"{name}/{rel}")
                   and _size(store / name / rel) != rec["bytes"]]
        if missing and offline():
            rel, rec = missing[0]
            more = f" and {len(missing) - 1} more file(s)" if len(missing) > 1 else ""
            raise ArtifactError(f"{offline()}=1 forbids the network: {src.url(f'{name}/{rel}')}{more} of {name} "
                                f"(mirror {src.label}) are not downloaded here; unset {offline()} to pull it")
        todo = sum(rec["bytes"] - _size(downloads / f"{rec['sha256']}.part") for rel, rec in missing)
        with _progress(todo, name, progress) as bar:
            try:
                for rel, rec in wanted:
                    _fetch_verified(src, name, rel, rec, downloads, bar, have=store / name / rel)
            except _Corrupt as e:
                for _, rec in wanted:  # a mirror that served a wrong file: keep nothing of this artifact
                    for path in (downloads / rec["sha256"], downloads / f"{rec['sha256']}.part"):
                        path.unlink(missing_ok=True)
                raise ArtifactError(str(e)) from None
        stage = artifacts.staging(store, name)
        try:
            placed = {}
            for rel, rec in wanted:
                target = stage / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if rec["sha256"] in placed:  # the same content twice in one artifact
                    shutil.copyfile(placed[rec["sha256"]], target)
                else:
                    os.replace(downloads / rec["sha256"], target)
                    placed[rec["sha256"]] = target
            card = artifacts.read_card(stage)
            if card.get("name") != name:
                raise ArtifactError(f"{name} of mirror {src.label} holds the card of {card.get('name')!r}; not kept")
            record = {"mirror": src.label, "name": name, "entry": entry,
                      "pulled": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
            (stage / MIRROR).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        return artifacts.install(store, name, stage, overwrite=True)


class _Corrupt(Exception):
    """A downloaded file whose size or sha256 differs from the mirror's index."""


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _fetch_verified(src, name: str, rel: str, rec: dict, downloads: Path, bar, *, have: Path) -> None:
    """`downloads/<sha256>` holds `rel` checked against its index record: already there, copied from `have`
    (the same file of the version in the store, when its sha256 is the index's), else fetched or resumed."""
    blob, part = downloads / rec["sha256"], downloads / f"{rec['sha256']}.part"
    if blob.is_file():
        return
    if have.is_file() and have.stat().st_size == rec["bytes"] and artifacts.sha256(have) == rec["sha256"]:
        shutil.copyfile(have, part)
        os.replace(part, blob)
        bar.update(rec["bytes"])
        return
    src.fetch(f"{name}/{rel}", part, rec["bytes"], bar)
    size, digest = _size(part), artifacts.sha256(part)
    if size != rec["bytes"] or digest != rec["sha256"]:
        part.unlink(missing_ok=True)
        raise _Corrupt(f"{src.url(f'{name}/{rel}')} from mirror {src.label} does not match the mirror's index "
                       f"(sha256 {digest}, index says {rec['sha256']}; {size:,} bytes, index says {rec['bytes']:,}); "
                       f"nothing of {name} was kept")
    os.replace(part, blob)


@contextlib.contextmanager
def _progress(total: int, name: str, enabled: bool | None):
    """A tqdm byte counter on stderr (by default only on a terminal), or a silent one."""
    if enabled is False or total <= 0:
        yield _Silent()
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"pull {name}",
              disable=None if enabled is None else False, leave=False) as bar:
        yield bar


class _Silent:
    def update(self, n: int) -> None:
        pass


def pull_configured(arch: str, tag: str, *, progress: bool | None = None) -> artifacts.Artifact | None:
    """`kerazoo.get`'s last resort: artifact `arch.tag` pulled from the first mirror in `$KERAZOO_MIRRORS`
    that lists it. None when no mirror is configured; an error naming what each mirror holds when none
    lists it, or naming the file and mirror when the pull fails."""
    mirrors, name = configured(), f"{arch}.{tag}"
    if not mirrors:
        return None
    seen = []
    for source in mirrors:
        try:
            src = open_source(source)
            index = read_index(src.read_index(user_dir()), src.url(INDEX))
        except (ArtifactError, OSError, ImportError) as e:
            seen.append(f"{source}: {e}")
            continue
        if name in index["artifacts"]:
            folder = _pull_entry(src, index, user_dir(), name, progress=progress)
            return artifacts.Artifact(name, folder, folder.parent == artifacts.shipped_dir(), artifacts.read_card(folder))
        same = [n for n in index["artifacts"] if n.startswith(f"{arch}.")]
        seen.append(f"{source} lists {', '.join(same) if same else f'no {arch} artifact'}")
    local = ", ".join(artifacts.artifacts(arch)) or "none"
    raise WeightsError(f"No weights {tag!r} for model {arch!r}: not in the stores ({local}) nor in the mirrors of "
                       f"KERAZOO_MIRRORS ({'; '.join(seen)}).")


# === Push ===

def push(name: str | os.PathLike, destination: str | os.PathLike, *, overwrite: bool = False) -> str:
    """Writes or updates a mirror with an artifact (verified first); returns where it went.

    Args:
      name: an artifact (`"lenet5.mnist"`: the user store, then the shipped ones) or an artifact folder.
      destination: a folder (created if needed) or `hf://ORG/REPO[@BRANCH]` (one commit on the Hub).
        An `http(s)://` mirror is read-only: push to the folder it serves.
      overwrite: replace a different artifact of that name in the mirror.

    Example:
      >>> kerazoo.push("lenet5.mine", "/srv/www/zoo")      # then: kerazoo pull https://host/zoo lenet5.mine
      >>> kerazoo.push("lenet5.mine", "hf://me/kerazoo-digits")
    """
    folder = _local_folder(name)
    card = artifacts.verify(folder)  # a damaged artifact is never published
    target = str(destination)
    if target.startswith("hf://"):
        return hub.push(folder, card, target, overwrite=overwrite)
    if re.match(r"https?://", target) or "://" in target:
        raise ArtifactError(f"{target}: an HTTP mirror is static files, read-only; push to a folder "
                            "(kerazoo push NAME DIR), serve or copy that folder, or push to hf://ORG/REPO")
    root = Path(target).expanduser()
    for store, what in ((artifacts.shipped_dir(), "the package's shipped artifacts"), (user_dir(), "your user store")):
        if _inside(root, store):
            raise ArtifactError(f"{root} is in {what} ({store}), not a mirror; push to a folder of its own")
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / ".kerazoo-mirror.lock"):
        return _push_folder(folder, card, root, overwrite)


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies under it (both resolved, symlinks followed)."""
    path, folder = path.expanduser().resolve(), folder.expanduser().resolve()
    return path == folder or folder in path.parents


def _local_folder(name) -> Path:
    if isinstance(name, os.PathLike) or "/" in str(name):
        return Path(name).expanduser()
    artifact = artifacts.find(*split_name(str(name))) if "." in str(name) else None
    if artifact is None:
        raise ArtifactError(f"No artifact {name!r} to push (push takes ARCH.TAG or a folder). Artifacts: "
                            f"{', '.join(artifacts.artifacts()) or 'none'}")
    return artifact.folder


def _push_folder(folder: Path, card: dict, root: Path, overwrite: bool) -> str:
    name = card["name"]
    index = (read_index((root / INDEX).read_text(encoding="utf-8"), str(root / INDEX)) if (root / INDEX).is_file()
             else empty_index())
    stage = root / f".push-{name}-{secrets.token_hex(4)}"
    try:
        entry = publish_copy(folder, card, stage)
        old = index["artifacts"].get(name)
        if old is not None and old["card"] != entry["card"] and not overwrite:
            raise ArtifactError(f"mirror {root} holds another {name} (card sha256 {old['card']['sha256']}, yours "
                                f"{entry['card']['sha256']}); pass overwrite=True (CLI: --overwrite) to replace it")
        if old is None and (root / name).exists() and not overwrite:
            raise ArtifactError(f"{root / name} exists but is not in {root / INDEX}; pass overwrite=True to replace it")
        index["artifacts"] = dict(sorted({**index["artifacts"], name: entry}.items()))
        cards = {n: json.loads((root / n / CARD).read_text()) for n in index["artifacts"]
                 if n != name and (root / n / CARD).is_file()}
        readmes = {n: (root / n / README).read_text(encoding="utf-8") for n in cards if (root / n / README).is_file()}
        cards[name], readmes[name] = card, (stage / README).read_text(encoding="utf-8")
        aside = root / f".old-{name}-{secrets.token_hex(4)}"
        if (root / name).exists():
            os.rename(root / name, aside)
        os.rename(stage, root / name)
        _write_atomic(root / INDEX, json.dumps(index, indent=2) + "\n")
        _write_atomic(root / README, modelcard.mirror_readme(list(cards.values()), readmes))
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return str(root)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def verify(name_or_path: str | Path | None = None) -> dict[str, str | None]:
    """Checks artifacts against their cards: one (a name such as `"lenet5.mnist"` or a folder) or all.

    Returns `{name: None if it verifies, else what differs}`. This is `kerazoo.verify` and `kerazoo verify`;
    like push and pull it imports neither TensorFlow nor Keras, so the check starts at once.
    """
    if name_or_path is None:
        found = {a.name: a.folder for a in artifacts.artifacts().values()}
    elif isinstance(name_or_path, Path) or "/" in str(name_or_path):
        folder = Path(name_or_path).expanduser()
        if not (folder / CARD).is_file() and not (folder / CARD).is_symlink():
            raise ArtifactError(f"{folder} is not an artifact folder (a folder holding card.json); give an artifact's "
                                "folder or name (kerazoo list --pretrained), or nothing to check them all")
        found = {folder.name: folder}
    else:
        arch, tag = split_name(str(name_or_path))
        if tag is None:
            chosen = list(artifacts.artifacts(arch).values())
        elif (artifact := artifacts.find(arch, tag)) is None:
            raise ArtifactError(f"No artifact {name_or_path!r}. Artifacts: {', '.join(artifacts.artifacts())}")
        else:
            chosen = [artifact]
        found = {a.name: a.folder for a in chosen}
    report = {}
    for name, folder in found.items():
        try:
            artifacts.verify(folder)
            report[name] = None
        except ArtifactError as e:
            report[name] = str(e)
    return report

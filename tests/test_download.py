"""`hetero datasets download`: fetch from a local HTTP server (never the network), check the
sha256, unpack into the data folder in the loaders' layout, and fail in one line offline."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import socket
import tarfile
import threading
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("pooch")

from hetero.cli.main import app
from hetero.datasets import DatasetError, load_task
from hetero.datasets import download as dl

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


# ------------------------------------------------------------------------------ archives
def _wav(seed: int) -> bytes:
    from scipy.io import wavfile

    rng = np.random.default_rng(seed)
    t = np.arange(1200) / 8000
    signal = 0.3 * np.sin(2 * np.pi * (200 + 40 * (seed % 10)) * t) + 0.01 * rng.standard_normal(
        t.size
    )
    buf = io.BytesIO()
    wavfile.write(buf, 8000, (signal * 32767).astype(np.int16))
    return buf.getvalue()


def _fsdd_zip(path: Path) -> None:
    """The GitHub release layout: ``free-spoken-digit-dataset-1.0.10/recordings/*.wav``."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("free-spoken-digit-dataset-1.0.10/README.md", "FSDD")
        for digit in range(10):
            for speaker in ("ann", "bob"):
                for take in range(12):
                    name = (
                        f"free-spoken-digit-dataset-1.0.10/recordings/{digit}_{speaker}_{take}.wav"
                    )
                    zf.writestr(name, _wav(digit * 100 + take))


def _linqs_files(n: int = 60, words: int = 12, seed: int = 0) -> tuple[str, str]:
    """``citeseer.content`` / ``.cites`` text: 6 topics, papers citing within their topic,
    one citation of a paper missing from the content file (LINQS has 15 of those)."""
    rng = np.random.default_rng(seed)
    topics = ["AI", "Agents", "DB", "HCI", "IR", "ML"]
    content, cites = [], []
    for i in range(n):
        bag = (rng.random(words) < 0.3).astype(int)
        bag[i % 6] = 1
        content.append(f"p{i}\t" + "\t".join(map(str, bag)) + f"\t{topics[i % 6]}")
        cites.append(f"p{i}\tp{(i + 6) % n}")
    cites.append("missing-paper\tp0")
    return "\n".join(content) + "\n", "\n".join(cites) + "\n"


def _citeseer_tgz(path: Path) -> None:
    content, cites = _linqs_files()
    with tarfile.open(path, "w:gz") as tf:
        for name, text in (("citeseer/citeseer.content", content), ("citeseer/citeseer.cites", cites),
                           ("citeseer/README", "LINQS")):  # fmt: skip
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def _racket_zip(path: Path) -> bool:
    src = SHARED / "racketsports"
    if not (src / "RacketSports_TRAIN.ts").is_file():
        return False
    with zipfile.ZipFile(path, "w") as zf:
        for name in ("RacketSports_TRAIN.ts", "RacketSports_TEST.ts"):
            zf.write(src / name, name)
    return True


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def log_message(self, *args) -> None:  # no access log on stderr
        pass

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A local mirror serving the three archives under their upstream file names."""
    root = tmp_path_factory.mktemp("mirror")
    _fsdd_zip(root / "v1.0.10.zip")
    _citeseer_tgz(root / "citeseer.tgz")
    racket = _racket_zip(root / "RacketSports.zip")
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_port}/", "root": root, "racket": racket}
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def small_fsdd(monkeypatch):
    """The synthetic FSDD archive holds 240 recordings, not the release's 3,000."""
    monkeypatch.setitem(dl.ARCHIVES, "fsdd", replace(dl.ARCHIVES["fsdd"], minimum=240))
    for var in (dl.MIRROR_ENV, dl.REGISTRY_ENV, "HETERO_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)


def _registry(tmp_path: Path, server: dict, **wrong: str) -> Path:
    pins = {
        "fsdd": _sha(server["root"] / "v1.0.10.zip"),
        "citeseer": _sha(server["root"] / "citeseer.tgz"),
    }
    if server["racket"]:
        pins["racketsports"] = _sha(server["root"] / "RacketSports.zip")
    pins.update(wrong)
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({k: {"sha256": v} for k, v in pins.items()}))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


# --------------------------------------------------------------------------------- tests
def test_what_each_target_needs():
    assert dl.archives_for("full") == ["fsdd", "racketsports", "citeseer"]
    assert dl.archives_for("mini") == []
    assert dl.archives_for("spoken_digits") == ["fsdd"]
    with pytest.raises(DatasetError, match="ships inside a PyPI package"):
        dl.archives_for("mfeat")
    with pytest.raises(DatasetError, match="nothing to download for 'nope'"):
        dl.archives_for("nope")
    for arc in dl.ARCHIVES.values():  # pinned releases, never a moving branch
        assert arc.url.startswith("https://") and "master" not in arc.url
        assert arc.sha256 is None  # none verified against the upstream archive (see docs)


def test_download_verifies_unpacks_and_the_loaders_read_it(tmp_path, server):
    data, cache = tmp_path / "data", tmp_path / "cache"
    reg = _registry(tmp_path, server)
    target = "full" if server["racket"] else "spoken_digits"
    got = dl.download(target, data, registry=reg, mirror=server["url"], cache=cache)
    by_name = {r["name"]: r for r in got}
    assert by_name["fsdd"]["status"] == "downloaded" and by_name["fsdd"]["verified"]
    assert by_name["fsdd"]["files"] == 240
    assert by_name["fsdd"]["sha256"] == _sha(server["root"] / "v1.0.10.zip")
    assert sorted(p.name for p in (data / "fsdd" / "recordings").iterdir())[0] == "0_ann_0.wav"
    assert not any(p.name.startswith(".") for p in data.iterdir())  # no staging left
    task = load_task("fsdd", data_dir=data)
    assert task.data.y.shape == (240,) and len(task.data.test_idx) == 10 * 2 * 5
    if server["racket"]:
        rs = load_task("racketsports", data_dir=data)
        assert len(rs.data.y) == 151 + 152
    assert dl.download("citeseer", data, registry=reg, mirror=server["url"], cache=cache)[0][
        "status"
    ] in ("downloaded", "present")
    cs = load_task("citeseer", data_dir=data, graph_dim=4)
    assert cs.data.y.shape == (60,) and set(cs.data.y.tolist()) == set(range(6))
    # a second call finds everything in place and fetches nothing
    before = len(_Quiet.requests)
    again = dl.download(target, data, registry=reg, mirror=server["url"], cache=cache)
    assert {r["status"] for r in again} == {"present"} and len(_Quiet.requests) == before


def test_a_wrong_hash_unpacks_nothing(tmp_path, server):
    reg = _registry(tmp_path, server, fsdd="0" * 64)
    with pytest.raises(DatasetError) as err:
        dl.download("fsdd", tmp_path / "d", registry=reg, mirror=server["url"], cache=tmp_path)
    message = str(err.value)
    assert "\n" not in message and "does not match its pinned sha256 000" in message
    assert not (tmp_path / "d" / "fsdd").exists()


def test_unpinned_archives_need_no_verify(tmp_path, server):
    before = len(_Quiet.requests)
    with pytest.raises(DatasetError, match=r"no verified sha256 is pinned for fsdd.*--no-verify"):
        dl.download("fsdd", tmp_path / "d", mirror=server["url"], cache=tmp_path / "c")
    assert len(_Quiet.requests) == before  # refused before anything was fetched
    got = dl.download("fsdd", tmp_path / "d", verify=False, mirror=server["url"],
                      cache=tmp_path / "c")  # fmt: skip
    assert got[0]["verified"] is False
    assert got[0]["sha256"] == _sha(server["root"] / "v1.0.10.zip")


def test_offline_is_one_line(tmp_path):
    mirror = f"http://127.0.0.1:{_free_port()}/hetero"
    with pytest.raises(DatasetError) as err:
        dl.download("citeseer", tmp_path / "d", verify=False, mirror=mirror, cache=tmp_path)
    message = str(err.value)
    assert "\n" not in message and "cannot download" in message and mirror in message
    res = runner.invoke(app, ["datasets", "download", "citeseer", "--data-dir",
                              str(tmp_path / "d"), "--no-verify", "--mirror", mirror])  # fmt: skip
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: dataset 'citeseer': cannot download")


def test_an_archive_without_the_files_is_refused(tmp_path, server, monkeypatch):
    broken = replace(dl.ARCHIVES["citeseer"], members=(("*nothing-like-this", "citeseer"),))
    monkeypatch.setitem(dl.ARCHIVES, "citeseer", broken)
    with pytest.raises(DatasetError, match="holds 0 of the expected files"):
        dl.download("citeseer", tmp_path / "d", verify=False, mirror=server["url"],
                    cache=tmp_path / "c")  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == []


def test_cli_download_and_env_overrides(tmp_path, server, monkeypatch):
    reg = _registry(tmp_path, server)
    monkeypatch.setenv(dl.MIRROR_ENV, server["url"])
    monkeypatch.setenv(dl.REGISTRY_ENV, str(reg))
    monkeypatch.setenv("HETERO_DATA_DIR", str(tmp_path / "env-data"))
    monkeypatch.setattr("pooch.os_cache", lambda name: tmp_path / "cache" / name)
    res = runner.invoke(app, ["datasets", "download", "citeseer"])
    assert res.exit_code == 0, res.output
    assert "citeseer: 2 files ->" in res.output and "verified" in res.output
    assert (tmp_path / "env-data" / "citeseer" / "citeseer.cites").is_file()
    assert (tmp_path / "cache" / "hetero" / "citeseer-citeseer.tgz").is_file()
    res = runner.invoke(app, ["datasets", "download", "citeseer"])
    assert "already in" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"citeseer": {"sha256": "xyz"}}))
    res = runner.invoke(app, ["datasets", "download", "citeseer", "--registry", str(bad)])
    assert res.exit_code == 2 and "citeseer.sha256: expected 64 hex digits" in res.output


def test_loaders_find_downloads_in_the_default_folder(tmp_path, server, monkeypatch):
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda name: str(tmp_path / name))
    dl.download("citeseer", verify=False, mirror=server["url"], cache=tmp_path / "c")
    assert (tmp_path / "hetero" / "data" / "citeseer" / "citeseer.content").is_file()
    task = load_task("citeseer", graph_dim=4)  # no data_dir, no HETERO_DATA_DIR
    assert task.data.y.shape == (60,)


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "citeseer" / "CiteSeer.mat").is_file(), reason="no CiteSeer")
def test_linqs_reader_matches_the_mat_reader_on_the_same_graph(tmp_path):
    """The real CiteSeer written out in the LINQS layout reads back identically."""
    from hetero.datasets.citeseer import read_citeseer

    adj, words, y = read_citeseer(SHARED / "citeseer" / "CiteSeer.mat")
    dense = words.toarray().astype(int)
    lines = [f"p{i} " + " ".join(map(str, row)) + f" t{y[i]}" for i, row in enumerate(dense)]
    (tmp_path / "citeseer.content").write_text("\n".join(lines) + "\n")
    i, j = adj.nonzero()
    keep = i < j  # each citation once, one direction
    cites = [f"p{a} p{b}" for a, b in zip(i[keep], j[keep], strict=True)]
    (tmp_path / "citeseer.cites").write_text("\n".join(cites) + "\n")
    adj2, words2, y2 = read_citeseer(tmp_path)  # the folder: finds citeseer.content
    assert (adj2 != adj).nnz == 0 and (words2 != words).nnz == 0
    assert np.array_equal(y2, y)

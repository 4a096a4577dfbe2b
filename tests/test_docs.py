"""The documentation is executable and in sync with the code.

Markers (HTML comments, invisible on the rendered page) on the line(s) right before a
fenced block say what the test does with it:

``<!-- slow -->``
    a ```python block that needs torch or takes more than a few seconds: run only by the
    slow test (the fast test skips it).
``<!-- output -->``
    a ```text block holding the exact stdout of the ```python block right before it.
``<!-- file: NAME -->``
    the block's text is written to the file NAME (in the page's temporary directory)
    before the next block runs.
``<!-- command: hetero ARGS -->``
    a ```text block holding the exact stdout of ``hetero ARGS`` run in that directory.
``<!-- run -->``
    a ```bash block whose lines (``hetero ...`` commands) are run in that directory, in
    order; each must exit with 0 (the output is not compared). With ``<!-- slow -->`` too,
    only the slow test runs it.

Checked here:

* the ```python blocks of docs/concepts.md, docs/user-guide.md and docs/api-guide.md run,
  in order, in one namespace per page, in a temporary working directory (where
  ``examples/`` links to the repository's examples), and print what the page says they print;
* docs/cli.md equals what docs/gen_cli.py generates from the current ``--help`` texts;
* every ``hetero ...`` command line in a ```bash block of the guides names a real command
  and only options that command has;
* the validation errors quoted in the user guide are the ones the code gives;
* relative links between the docs point at files that exist.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXECUTED = ("concepts.md", "user-guide.md", "api-guide.md")
GUIDES = ("concepts.md", "user-guide.md", "api-guide.md", "index.md")

_FENCE = re.compile(r"^```([\w+-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*(slow|output|file|command|run)\s*(?::\s*(.*?))?\s*-->$")


@dataclass
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the first code line
    markers: dict[str, str] = field(default_factory=dict)


def parse_blocks(path: Path) -> list[Block]:
    """Fenced code blocks of a Markdown file with the markers written just before them."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    markers: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _MARKER.match(line.strip())
        if m:
            markers[m.group(1)] = m.group(2) or ""
            i += 1
            continue
        f = _FENCE.match(line)
        if f and not line.startswith(" "):
            start = i + 1
            j = start
            while j < len(lines) and lines[j].rstrip() != "```":
                j += 1
            if j == len(lines):
                raise AssertionError(f"{path.name}:{i + 1}: unclosed code fence")
            code = "\n".join(lines[start:j]) + "\n"
            blocks.append(Block(f.group(1), code, start + 1, markers))
            markers = {}
            i = j + 1
            continue
        if line.strip():
            markers = {}  # a marker applies only to the fence right after it
        i += 1
    return blocks


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def _hetero_stdout(args: list[str]) -> str:
    from typer.testing import CliRunner

    from hetero.cli.main import app

    result = CliRunner(env={"COLUMNS": "100"}).invoke(app, args, prog_name="hetero")
    assert result.exit_code == 0, (
        f"hetero {' '.join(args)} exited {result.exit_code}: {result.output}"
    )
    return result.stdout


def _run_lines(code: str, where: str) -> None:
    """Run each ``hetero ...`` line of a bash block (continuations joined, comments
    dropped) in the current directory; each must exit with 0."""
    for line in code.replace("\\\n", " ").split("\n"):
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line)
        assert words[0] == "hetero", f"{where}: a run block holds hetero commands only: {line}"
        _hetero_stdout(words[1:])


def run_page(name: str, *, include_slow: bool, tmp_path: Path) -> int:
    """Run the python blocks of ``docs/<name>`` (and its file/command blocks); return how
    many python blocks ran."""
    path = DOCS / name
    blocks = parse_blocks(path)
    namespace: dict = {"__name__": f"docs_{name.replace('.', '_').replace('-', '_')}"}
    ran = 0
    if not (tmp_path / "examples").exists():  # pages refer to the shipped examples
        (tmp_path / "examples").symlink_to(ROOT / "examples")
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        for k, block in enumerate(blocks):
            where = f"{name}:{block.line}"
            if "file" in block.markers:
                Path(block.markers["file"]).write_text(block.code, encoding="utf-8")
                continue
            if "command" in block.markers:
                words = shlex.split(block.markers["command"])
                assert words and words[0] == "hetero", f"{where}: command must start with hetero"
                printed = _hetero_stdout(words[1:])
                assert _norm(printed) == _norm(block.code), (
                    f"{where}: `{block.markers['command']}` prints something else:\n"
                    f"--- printed ---\n{printed}\n--- documented ---\n{block.code}"
                )
                continue
            if "run" in block.markers:
                assert block.lang in ("bash", "sh"), f"{where}: run marks a bash block"
                if "slow" not in block.markers or include_slow:
                    _run_lines(block.code, where)
                continue
            if block.lang != "python":
                continue
            if "slow" in block.markers and not include_slow:
                continue
            buf = io.StringIO()
            code = compile(block.code, str(path) + f":{block.line}", "exec")
            with contextlib.redirect_stdout(buf):
                exec(code, namespace)
            ran += 1
            nxt = blocks[k + 1] if k + 1 < len(blocks) else None
            if nxt is not None and "output" in nxt.markers:
                assert _norm(buf.getvalue()) == _norm(nxt.code), (
                    f"{where}: printed output differs from the output block at "
                    f"line {nxt.line}:\n--- printed ---\n{buf.getvalue()}\n--- documented ---\n"
                    f"{nxt.code}"
                )
    finally:
        os.chdir(old)
    return ran


def _has_slow(name: str) -> bool:
    return any(
        "slow" in b.markers and (b.lang == "python" or "run" in b.markers)
        for b in parse_blocks(DOCS / name)
    )


# ----------------------------------------------------------------------------- executed pages


def _isolated(registry):
    """Entries registered inside the block are removed after it (the others stay)."""
    before = set(registry.names())
    try:
        yield
    finally:
        for name in set(registry.names()) - before:
            registry.unregister(name)


@pytest.fixture
def isolated_learners():
    """Learners the pages register vanish after the test (the built-ins stay)."""
    from hetero.learners import LEARNERS

    yield from _isolated(LEARNERS)


@pytest.fixture
def isolated_models():
    """Models the pages register vanish after the test (needs torch)."""
    pytest.importorskip("torch")
    from hetero_models.registry import MODELS

    yield from _isolated(MODELS)


@pytest.mark.parametrize("name", EXECUTED)
def test_python_blocks_run(name, tmp_path, isolated_learners):
    ran = run_page(name, include_slow=False, tmp_path=tmp_path)
    assert ran > 0, f"{name} has no fast python block"


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in EXECUTED if _has_slow(n)])
def test_python_blocks_run_with_slow(name, tmp_path, isolated_learners, isolated_models):
    import torch

    torch.set_num_threads(1)
    assert run_page(name, include_slow=True, tmp_path=tmp_path) > 0


def test_every_output_block_follows_a_python_block():
    for name in GUIDES:
        blocks = parse_blocks(DOCS / name)
        for k, b in enumerate(blocks):
            if "output" in b.markers:
                assert k > 0 and blocks[k - 1].lang == "python", (
                    f"{name}:{b.line}: an output block must follow a python block"
                )


def test_block_parser_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n<!-- slow -->\n```python\nx = 1\n```\n\n<!-- output -->\n```text\n1\n```\n"
        "\n<!-- slow -->\nprose resets the marker\n```python\ny = 2\n```\n"
        "<!-- file: a.yaml -->\n```yaml\nk: v\n```\n"
        "<!-- command: hetero datasets show a.yaml -->\n```text\nout\n```\n",
        encoding="utf-8",
    )
    blocks = parse_blocks(page)
    assert [(b.lang, b.markers, b.line) for b in blocks] == [
        ("python", {"slow": ""}, 5),
        ("text", {"output": ""}, 10),
        ("python", {}, 16),
        ("yaml", {"file": "a.yaml"}, 20),
        ("text", {"command": "hetero datasets show a.yaml"}, 24),
    ]


def test_run_blocks_run_their_commands(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text(
        "```python\nimport json\n"
        "json.dump({'kind': 'modality', 'labels': ['a', 'b'], 'values': [[0, 1], [1, 0]]},"
        " open('m.json', 'w'))\n```\n"
        "<!-- run -->\n```bash\nhetero plot m.json -o figs --format svg  # a comment\n```\n"
        "<!-- slow -->\n<!-- run -->\n```bash\nhetero plot m.json -o slow-figs\n```\n"
        "<!-- run -->\n```bash\nhetero check missing.json\n```\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "DOCS", docs)
    with pytest.raises(AssertionError, match=r"hetero check missing\.json exited 2"):
        run_page("page.md", include_slow=False, tmp_path=tmp_path)
    assert (tmp_path / "figs" / "heatmap.svg").is_file()
    assert not (tmp_path / "slow-figs").exists()  # the slow block waits for the slow test


def test_output_mismatch_is_reported(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text(
        "```python\nprint('a')\n```\n<!-- output -->\n```text\nb\n```\n", encoding="utf-8"
    )
    monkeypatch.setattr(sys.modules[__name__], "DOCS", docs)
    with pytest.raises(AssertionError, match="printed output differs"):
        run_page("page.md", include_slow=False, tmp_path=tmp_path)


# ----------------------------------------------------------------------------- CLI reference


def _gen_cli():
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_matches_help():
    gen = _gen_cli()
    expected = gen.render()
    current = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert gen.normalise(current) == gen.normalise(expected), (
        "docs/cli.md is out of date with the --help texts; regenerate it with "
        "`.venv/bin/python docs/gen_cli.py`"
    )


def test_cli_reference_lists_every_command():
    gen = _gen_cli()
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for path in gen.command_paths():
        assert f"## {' '.join(('hetero', *path))}\n" in text


def _click_root():
    import typer.main

    from hetero.cli.main import app

    return typer.main.get_command(app)


def _command_lines(name: str) -> list[tuple[int, list[str]]]:
    """``hetero ...`` invocations in the bash blocks of a page (continuations joined)."""
    out = []
    for block in parse_blocks(DOCS / name):
        if block.lang not in ("bash", "sh", "console"):
            continue
        text = block.code.replace("\\\n", " ")
        for offset, line in enumerate(text.split("\n")):
            line = line.split(" #", 1)[0].strip()
            if line.startswith("$ "):
                line = line[2:]
            for part in re.split(r"\s*(?:&&|\|\||;)\s*", line):
                try:
                    words = shlex.split(part)
                except ValueError:
                    continue
                for idx, word in enumerate(words):
                    if Path(word).name == "hetero" or word == "$(which hetero)":
                        out.append((block.line + offset, words[idx + 1 :]))
                        break
    return out


def command_line_problem(args: list[str]) -> str | None:
    """Why ``hetero ARGS`` is not a valid invocation (unknown command or option), or None."""
    root = _click_root()
    cmd = root
    ctx = root.context_class(root, info_name="hetero")
    rest = list(args)
    while rest and hasattr(cmd, "get_command") and not rest[0].startswith("-"):
        sub = cmd.get_command(ctx, rest[0])
        if sub is None:
            return f"unknown command {rest[0]!r}"
        cmd, rest = sub, rest[1:]
    known = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}
    for word in rest:
        if word.startswith("-") and word != "-":
            opt = word.split("=", 1)[0]
            if opt not in known:
                return f"`{cmd.name}` has no option {opt} (has: {', '.join(sorted(known))})"
    return None


def test_command_line_checker_catches_mistakes():
    assert command_line_problem(["measure", "s.yaml", "-o", "d", "--seeds", "3"]) is None
    assert "no option --bogus" in command_line_problem(["measure", "s.yaml", "--bogus"])
    assert "unknown command 'nope'" in command_line_problem(["datasets", "nope"])
    assert command_line_problem(["datasets", "show", "mini", "--json"]) is None


@pytest.mark.parametrize("name", ["user-guide.md", "api-guide.md", "index.md"])
def test_documented_command_lines_use_real_options(name):
    lines = _command_lines(name)
    for line, args in lines:
        problem = command_line_problem(args)
        assert problem is None, f"{name}:{line}: hetero {' '.join(args)}: {problem}"
    if name == "user-guide.md":
        assert len(lines) >= 5


# ----------------------------------------------------------------------------- links

_LINK = re.compile(r"\]\(([^)#\s]*)(#[^)\s]*)?\)")


def heading_anchors(text: str) -> set[str]:
    """GitHub-style anchors of the Markdown headings (outside code blocks)."""
    anchors: set[str] = set()
    in_code = False
    for line in text.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_heading_anchors():
    assert heading_anchors(
        "# A title\n```\n# not a heading\n```\n## 2. Measuring: `hetero measure`\n"
    ) == {
        "a-title",
        "2-measuring-hetero-measure",
    }


@pytest.mark.parametrize("name", GUIDES)
def test_relative_links_resolve(name):
    path = DOCS / name
    links = _LINK.findall(path.read_text(encoding="utf-8"))
    assert links, f"{name} links nowhere"
    for target, anchor in links:
        if re.match(r"^[a-z]+:", target):
            continue  # http:, https:, mailto:
        file = path.parent / target if target else path
        assert file.exists(), f"{name}: broken link to {target}"
        if anchor and file.suffix == ".md":
            anchors = heading_anchors(file.read_text(encoding="utf-8"))
            assert anchor[1:] in anchors, f"{name}: no heading {anchor} in {file.name}"


# ----------------------------------------------------------------------------- quoted errors


def _suite_error(tmp_path: Path, arrays: dict, kind: str = "audio") -> str:
    import numpy as np
    from typer.testing import CliRunner

    from hetero.cli.main import app

    d = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
    d.mkdir()
    np.savez(d / "speech.npz", **arrays)
    (d / "speech.yaml").write_text(
        "tasks:\n  - name: speech\n    data: speech.npz\n    target: multiclass\n"
        f"    modalities:\n      - {{name: audio, kind: {kind}}}\n"
        "      - {name: lips, kind: video}\n",
        encoding="utf-8",
    )
    old = os.getcwd()
    os.chdir(d)
    try:
        result = CliRunner().invoke(app, ["datasets", "show", "speech.yaml"], prog_name="hetero")
    finally:
        os.chdir(old)
    assert result.exit_code == 2, result.output
    return result.stderr.strip()


def test_user_guide_quotes_real_validation_errors(tmp_path):
    import numpy as np

    quoted = [
        b.code.strip().split("\n")
        for b in parse_blocks(DOCS / "user-guide.md")
        if b.code.startswith("error: speech.npz")
    ]
    assert len(quoted) == 1, "the user guide should quote the validation errors once"
    rng = np.random.default_rng(0)
    n = 300
    audio = rng.normal(size=(n, 32, 4)).astype("float32")
    lips = rng.normal(size=(n, 24)).astype("float32")
    y = rng.integers(0, 3, size=n)
    nan_lips = lips.copy()
    nan_lips[5, 3] = np.nan
    produced = [
        _suite_error(tmp_path, {"audio": audio, "y": y}),
        _suite_error(tmp_path, {"audio": audio, "lips": lips[:-1], "y": y}),
        _suite_error(tmp_path, {"audio": audio, "lips": nan_lips, "y": y}),
        _suite_error(tmp_path, {"audio": audio, "lips": lips, "y": y}, kind="sound"),
    ]
    assert quoted[0] == produced


# ----------------------------------------------------------------------------- output files


def _documented_outputs() -> set[str]:
    """File names in the table of section 3 of the user guide (figures expanded)."""
    text = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    section = text.split("## 3. Reading the outputs", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for row in section.split("\n"):
        if not row.startswith("| `"):
            continue
        first, rest = row.split("|")[1], "|".join(row.split("|")[2:])
        for name in re.findall(r"`([^`]+)`", first):
            if name.endswith("/"):
                prefixes = re.findall(r"`(\w+_)`", rest)
                pngs = re.findall(r"`(\w+\.png)`", rest)
                names |= {f"{name}{p}{png}" for p in prefixes for png in pngs}
            else:
                names.add(name)
    return names


@pytest.mark.slow
def test_user_guide_lists_every_output_file(tmp_path):
    from hetero.measure import measure
    from hetero.measure.synthetic import planted_suite

    suite, _ = planted_suite(n_groups=1, per_group=2, n_noise=1, n_samples=200, seed=0)
    out = tmp_path / "out"
    measure(suite, out, learner="reference", learner_config={"max_epochs": 10}, retest=True,
            controls=True)  # fmt: skip
    produced = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    documented = _documented_outputs()
    assert "runs.sqlite" in documented and "figures/modality_heatmap.png" in documented
    assert produced == documented


# ----------------------------------------------------------------------------- pandas lines


def _pandas_lines() -> list[list[str]]:
    """The code spans of each row of the user guide's "loads into pandas in one line"
    table (section 3), in order."""
    text = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    section = text.split("loads into pandas in one line", 1)[1].split("\n\n", 1)[1]
    table = section.split("\n\n", 1)[0]
    rows = [r for r in table.split("\n") if r.startswith("| ") and "one line" not in r]
    return [re.findall(r"`([^`]+)`", r.split("|")[2]) for r in rows]


def test_documented_pandas_lines_load_a_real_measurement(tmp_path):
    """Every one-liner of the user guide's pandas table, on a real measurement: the
    ``hetero ...`` commands a row names run first, then its expression gives a non-empty
    DataFrame."""
    import json

    import pandas as pd

    import hetero
    from hetero.measure import measure
    from hetero.measure.synthetic import planted_suite

    suite, _ = planted_suite(2, 2, n_noise=0, n_samples=200, seed=0)
    measure(suite, tmp_path / "DIR", learner="reference", seeds=2, figures=False,
            max_epochs=30, stability_boot=0)  # fmt: skip
    lines = _pandas_lines()
    assert len(lines) >= 6
    expressions = 0
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        for spans in lines:
            code = [c for c in spans if not c.startswith("hetero ")]
            if any("parquet" in c for c in code) and importlib.util.find_spec("pyarrow") is None:
                continue  # the extra is not installed here
            for command in (c for c in spans if c.startswith("hetero ")):
                _hetero_stdout(shlex.split(command)[1:])
            for expr in code:
                if not expr.startswith(("pd.", "hetero.")):
                    continue
                frame = eval(expr, {"pd": pd, "json": json, "hetero": hetero, "Path": Path})
                assert isinstance(frame, pd.DataFrame) and len(frame) > 0, expr
                expressions += 1
    finally:
        os.chdir(old)
    assert expressions >= 6

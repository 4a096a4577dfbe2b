"""Atomic file writes and guarded reads of JSON, YAML and ``.npy`` / ``.npz`` data.

A result file is either absent or complete: content goes to a temporary file in the same
directory, is flushed to disk and then renamed over the target (atomic on POSIX).

Every reader here treats its input as untrusted: it reads only regular files (a FIFO or a
device would block or never end), refuses files larger than a limit before reading them,
bounds what parsing may expand to (YAML aliases, JSON nesting, ``.npy`` headers that claim
more data than the file holds) and turns every failure into a one-line error naming the
file. Nothing is ever unpickled.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hetero.errors import HeteroError

__all__ = [
    "LOCK_FILE",
    "MAX_TEXT_BYTES",
    "MAX_YAML_NODES",
    "atomic_write_bytes",
    "atomic_write_dir",
    "atomic_write_text",
    "check_npy_member",
    "check_output_dir",
    "check_output_file",
    "exclusive_folder",
    "read_json",
    "read_npy",
    "read_text_file",
    "read_yaml",
    "require_regular_file",
    "to_jsonable",
    "write_json",
]

#: Builds the exception to raise: ``error(message, source=path)`` (a HeteroError subclass).
ErrorFactory = Callable[..., Exception]

#: Largest JSON / YAML file read (bytes). Matrices of thousands of units stay far below.
MAX_TEXT_BYTES = 64 * 2**20
#: Most nodes a YAML document may expand to once its aliases are followed.
MAX_YAML_NODES = 1_000_000


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path.parent, f".{path.name}.", ".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _create_temp(folder: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    """A new file in ``folder`` with a unique name, opened for writing.

    Created with mode 0o666 so the kernel applies the process umask, as a plain ``open()``
    would (``tempfile.mkstemp`` makes 0o600 files; fixing that needs the umask, which can
    only be read by setting it, process-wide).
    """
    for _ in range(100):
        tmp = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def atomic_write_dir(path: str | os.PathLike, files: dict[str, bytes]) -> list[Path]:
    """Replace the folder ``path`` by one holding exactly ``files`` (name -> bytes).

    The set is written into a hidden sibling folder and swapped in by renames, so a reader
    (or a crash) sees the old complete set or the new complete set, never half of one; at
    worst a crash between the two renames leaves no folder, plus hidden leftovers that the
    next write removes. Use only for folders hetero owns (``figures/``): whatever else was
    in ``path`` is gone afterwards.
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.partial"
    tmp.mkdir()  # mode 0o777 less the umask, like the folder it replaces
    try:
        for name, data in files.items():
            atomic_write_bytes(tmp / name, data)
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.{secrets.token_hex(6)}.partial"
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return [path / name for name in files]


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, tuples, paths and non-finite floats to plain JSON values.

    NaN becomes ``null`` (the matrix format's "not measured"); +-inf is refused because JSON
    cannot hold it and silently mapping it would hide a bug.
    """
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise ValueError("cannot write an infinite value to JSON")
        return value
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def write_json(path: str | os.PathLike, obj: Any, *, indent: int = 2) -> Path:
    """Serialise ``obj`` with :func:`to_jsonable` and write it atomically."""
    text = json.dumps(to_jsonable(obj), indent=indent, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


def check_output_dir(path: str | os.PathLike, *, create: bool = True) -> Path:
    """Check, before any work starts, that ``path`` can be the output directory.

    With ``create`` the directory is made and proven writable by writing a probe file;
    without, nothing is created: an existing ``path`` must be a writable directory, and a
    missing one must be creatable (no file in the way, the nearest existing folder
    writable). Raises a one-line :class:`~hetero.errors.HeteroError`.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise HeteroError(
            "exists and is not a directory; expected an output directory", source=path
        )
    if not create:
        _check_creatable(path)
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".hetero-write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise HeteroError(
            f"output directory is not writable ({exc.strerror or exc})", source=path
        ) from None
    return path


def check_output_file(path: str | os.PathLike) -> Path:
    """Check, before any work starts, that ``path`` can be written as a file (creates nothing)."""
    path = Path(path)
    if path.is_dir():
        raise HeteroError("is a directory; expected an output file path", source=path)
    if path.exists() and not path.is_file():
        raise HeteroError("exists and is not a regular file", source=path)
    _check_creatable(path.parent)
    return path


def _check_creatable(folder: Path) -> None:
    """``folder`` exists as a writable directory or could be made (no file in the way)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise HeteroError(f"{probe} is not a directory", source=folder)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise HeteroError(f"cannot write in {probe} (permission denied)", source=folder)


def require_regular_file(
    path: str | os.PathLike, *, what: str = "a file", error: ErrorFactory | None = None
) -> Path:
    """Return ``path`` if it is a regular file (symlinks followed); else raise ``error``.

    Directories, FIFOs, sockets and devices are refused *before* anything opens them: opening
    a FIFO for reading blocks until a writer appears, a device may never end.
    """
    error = error or HeteroError
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise error("file not found", source=path) from None
    except OSError as exc:
        raise error(f"cannot read file ({exc.strerror or exc})", source=path) from None
    if stat.S_ISREG(mode):
        return path
    kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
    if stat.S_ISFIFO(mode):
        kind = "a FIFO"
    raise error(f"expected {what}, found {kind}", source=path)


def read_text_file(
    path: str | os.PathLike,
    *,
    what: str = "a text file",
    error: ErrorFactory | None = None,
    max_bytes: int = MAX_TEXT_BYTES,
) -> str:
    """Read a regular UTF-8 file of at most ``max_bytes``; one-line ``error`` otherwise."""
    error = error or HeteroError
    path = require_regular_file(path, what=what, error=error)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(
                f"file is {size:,} bytes; expected {what} of at most {max_bytes:,}", source=path
            )
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read file ({exc.strerror or exc})", source=path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"expected {what} in UTF-8",
            source=path,
        ) from None


def read_json(
    path: str | os.PathLike,
    *,
    error: ErrorFactory | None = None,
    max_bytes: int = MAX_TEXT_BYTES,
) -> Any:
    """Read a JSON file; raise ``error`` (a HeteroError subclass) with a one-line message.

    Missing, special, oversized, non-UTF-8, malformed and too deeply nested files all become
    ``error(message, source=path)``, and so do ``NaN`` / ``Infinity`` tokens (not JSON,
    though Python's parser takes them).
    """
    error = error or HeteroError
    text = read_text_file(path, what="a JSON file", error=error, max_bytes=max_bytes)

    def constant(name: str) -> Any:
        # Python's json accepts NaN / Infinity, which are not JSON; hetero never writes them.
        raise error(
            f"{name} is not valid JSON; expected a number, or null for a missing value",
            source=path,
        )

    try:
        return json.loads(text, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise error(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source=path
        ) from None
    except RecursionError:
        raise error("JSON nested too deeply", source=path) from None
    except HeteroError:  # raised by constant() above
        raise
    except ValueError as exc:  # e.g. an integer literal longer than Python's digit limit
        raise error(f"malformed JSON ({_value_error_text(exc)})", source=path) from None


def read_yaml(
    path: str | os.PathLike,
    *,
    error: ErrorFactory | None = None,
    max_bytes: int = MAX_TEXT_BYTES,
    max_nodes: int = MAX_YAML_NODES,
) -> Any:
    """Parse a YAML file with the safe loader, bounded in size and alias expansion.

    A few hundred bytes of nested aliases can stand for billions of nodes (a "billion
    laughs" document): the composed node graph is measured, with aliases expanded, before
    any Python object is built, and a document over ``max_nodes`` or with a recursive
    alias is refused.
    """
    import yaml

    error = error or HeteroError
    text = read_text_file(path, what="a YAML file", error=error, max_bytes=max_bytes)
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # its reader already refuses some characters
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_size(node, max_nodes, path, error)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"malformed YAML{where}: {problem}", source=path) from None
    except RecursionError:
        raise error("YAML nested too deeply", source=path) from None
    except HeteroError:  # raised by _check_yaml_size
        raise
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise error(f"malformed YAML ({_value_error_text(exc)})", source=path) from None
    finally:
        if loader is not None:
            loader.dispose()


def _value_error_text(exc: ValueError) -> str:
    text = str(exc)
    if "integer string conversion" in text:
        return "an integer literal with more than 4300 digits"
    return text


def _check_yaml_size(root: Any, max_nodes: int, path: Any, error: ErrorFactory) -> None:
    """Count the nodes ``root`` expands to (aliases followed) without expanding it."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()
    # Iterative post-order walk: memoised per node, so shared (aliased) nodes cost once.
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            if isinstance(node, yaml.MappingNode):
                children = [c for kv in node.value for c in kv]
            else:
                children = node.value
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > max_nodes:
                raise error(
                    f"YAML expands to more than {max_nodes:,} nodes through its aliases; "
                    "expected a plain document",
                    source=path,
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if not isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
            sizes[key] = 1
            continue
        if key in active:
            raise error("recursive YAML alias (an anchor used inside itself)", source=path)
        active.add(key)
        stack.append((node, True))
        children = (
            [c for kv in node.value for c in kv]
            if isinstance(node, yaml.MappingNode)
            else node.value
        )
        for child in children:
            if id(child) in active:
                raise error("recursive YAML alias (an anchor used inside itself)", source=path)
            stack.append((child, False))


def check_npy_member(
    header_source: Any, available: int, *, name: str, path: Any, error: ErrorFactory
) -> tuple[tuple[int, ...], Any]:
    """Read a ``.npy`` header from the open binary file ``header_source`` and check it.

    Returns ``(shape, dtype)``. Refuses object dtypes (they would need unpickling) and a
    header that claims more data than the ``available`` bytes after it, so a forged header
    cannot make numpy allocate terabytes before it finds the data missing.
    """
    import numpy as np

    fmt = np.lib.format
    try:
        version = fmt.read_magic(header_source)
        start = header_source.tell()
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(header_source)
        else:
            shape, _, dtype = fmt.read_array_header_2_0(header_source)
        header_len = header_source.tell() - start
    except Exception as exc:  # numpy parses the header text; a forged one fails in many ways
        if isinstance(exc, HeteroError):
            raise
        raise error(
            f"array '{name}': bad .npy header ({' '.join(str(exc).split())})", source=path
        ) from None
    if dtype.hasobject:
        raise error(
            f"array '{name}' holds Python objects (dtype object), which would need unpickling; "
            "expected numeric arrays (files are never unpickled)",
            source=path,
        )
    n_items = 1
    for dim in shape:
        n_items *= int(dim)
    claimed = n_items * dtype.itemsize
    held = available - header_len - 8  # magic string and version bytes
    if claimed > held:
        raise error(
            f"array '{name}': header claims shape {tuple(shape)} of {dtype} ({claimed:,} bytes) "
            f"but the file holds {max(held, 0):,}; expected a complete .npy array",
            source=path,
        )
    return tuple(shape), dtype


def read_npy(path: str | os.PathLike, *, error: ErrorFactory | None = None) -> Any:
    """Load one ``.npy`` array (never unpickled), its header checked before allocation."""
    import numpy as np

    error = error or HeteroError
    path = require_regular_file(path, what="an .npy file", error=error)
    try:
        with open(path, "rb") as fh:
            check_npy_member(fh, path.stat().st_size, name=path.stem, path=path, error=error)
        return np.load(path, allow_pickle=False)
    except HeteroError:  # from check_npy_member
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise error(f"cannot read .npy ({' '.join(str(exc).split())})", source=path) from None


#: Lock file that a command writing into a folder (measure, compare) holds there.
LOCK_FILE = ".hetero.lock"


@contextlib.contextmanager
def exclusive_folder(folder: str | os.PathLike | None, command: str) -> Iterator[None]:
    """Hold ``folder/.hetero.lock`` exclusively; refuse at once if another process does.

    An OS-level lock (filelock): a killed run releases it with its process, so resuming
    never waits. ``command`` names the writer in the error ("hetero measure"). A command
    that fails before writing anything into a folder that was empty leaves no folder
    behind (not one holding only the lock file).
    """
    if folder is None:
        yield
        return
    import filelock

    was_empty = Path(folder).is_dir() and not any(Path(folder).iterdir())
    lock = filelock.FileLock(Path(folder) / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise HeteroError(
            f"another {command} is writing to this folder (it holds {LOCK_FILE}); wait for it"
            " to finish or choose another --out",
            source=folder,
        ) from None
    try:
        yield
    except BaseException:
        # unlinked while still held, so that no other process can hold it at that moment;
        # the folder goes only if it is then empty (another writer may have started)
        if was_empty and [p.name for p in Path(folder).iterdir()] == [LOCK_FILE]:
            with contextlib.suppress(OSError):
                (Path(folder) / LOCK_FILE).unlink()
            lock.release()
            with contextlib.suppress(OSError):
                Path(folder).rmdir()
        raise
    finally:
        lock.release()

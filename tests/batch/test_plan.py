"""Planning: deterministic order, mini-batch cuts, odd names, and the stored plan."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from ferry.batch.definition import JobDefinition
from ferry.batch.minibatches import PlanError, create_plan, open_plan


def _definition(inputs: list[Path], size: int = 3, input_type: str = "uri_folder") -> JobDefinition:
    return JobDefinition(
        name="p",
        inputs=[str(p) for p in inputs],
        input_type=input_type,
        python="python",
        entry_script=None,
        code_dir=".",
        model_dir=None,
        mini_batch_size=size,
    )


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")


def test_folders_are_listed_depth_first_with_sorted_names(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for rel in ["b.txt", "a/2.txt", "a/1.txt", "a/sub/0.txt", "c/x.txt", "a.txt", ".hidden"]:
        _touch(data / rel)
    (data / "empty").mkdir()
    plan = create_plan(_definition([data]), tmp_path / "plan")

    items = [p for _, p in plan.iter_items()]
    names = [str(Path(p).relative_to(data)) for p in items]
    assert names == [".hidden", "a/1.txt", "a/2.txt", "a/sub/0.txt", "a.txt", "b.txt", "c/x.txt"]
    assert plan.items_total == 7
    assert plan.mini_batches_total == 3
    assert [plan.batch_len(i) for i in range(3)] == [3, 3, 1]
    assert plan.mini_batch(1) == items[3:6]
    assert [mb for mb, _ in plan.iter_items()] == [0, 0, 0, 1, 1, 1, 2]


def test_the_stored_plan_is_reopened_unchanged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i in range(10):
        _touch(data / f"{i}.txt")
    first = create_plan(_definition([data], size=4), tmp_path / "plan")
    _touch(data / "new.txt")  # files added later are not part of the job
    again = open_plan(tmp_path / "plan")
    assert again is not None
    assert again.items_total == first.items_total == 10
    assert [again.mini_batch(i) for i in range(3)] == [first.mini_batch(i) for i in range(3)]


def test_an_incomplete_plan_is_not_opened(tmp_path: Path) -> None:
    (tmp_path / "plan").mkdir()
    (tmp_path / "plan" / "items.bin").write_bytes(b"/a\n")
    assert open_plan(tmp_path / "plan") is None


def test_several_inputs_and_single_files_keep_their_order(tmp_path: Path) -> None:
    _touch(tmp_path / "one" / "z.txt")
    _touch(tmp_path / "two.txt")
    plan = create_plan(_definition([tmp_path / "one", tmp_path / "two.txt"]), tmp_path / "plan")
    assert [Path(p).name for _, p in plan.iter_items()] == ["z.txt", "two.txt"]


def test_names_with_newlines_backslashes_and_bad_utf8_round_trip(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    data = os.fsencode(tmp_path / "data")
    raw = [b"a\nb", b"c\\nd", b"\xff", b"e\\", b"plain"]
    for name in raw:
        with open(os.path.join(data, name), "wb"):  # noqa: PTH118, PTH123
            pass
    plan = create_plan(_definition([tmp_path / "data"], size=2), tmp_path / "plan")
    expected = [os.fsdecode(os.path.join(data, n)) for n in sorted(raw)]  # noqa: PTH118
    assert [p for _, p in plan.iter_items()] == expected
    assert plan.mini_batch(0) + plan.mini_batch(1) + plan.mini_batch(2) == expected


def test_symlinked_folders_are_followed_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _touch(data / "real" / "f.txt")
    (data / "link").symlink_to(data / "real")
    (data / "real" / "loop").symlink_to(data)
    plan = create_plan(_definition([data]), tmp_path / "plan")
    assert [str(Path(p).relative_to(data)) for _, p in plan.iter_items()] == ["link/f.txt"]


def test_missing_input_and_wrong_type_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="does not exist") as missing:
        create_plan(_definition([tmp_path / "nope"]), tmp_path / "plan")
    assert missing.value.details == {"field": "inputs", "path": str(tmp_path / "nope")}
    with pytest.raises(PlanError, match="use type uri_folder"):
        create_plan(_definition([tmp_path], input_type="uri_file"), tmp_path / "plan")


def _reference_listing(folder: bytes) -> list[bytes]:
    """What the plan must list, written the obvious way: recursive, sorted, path by path."""
    out: list[bytes] = []
    for name in sorted(os.listdir(folder)):  # noqa: PTH208 (bytes names)
        path = os.path.join(folder, name)  # noqa: PTH118
        out.extend(_reference_listing(path) if os.path.isdir(path) else [path])  # noqa: PTH112
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_mixed_trees_are_cut_exactly_like_a_path_by_path_listing(tmp_path: Path, seed: int) -> None:
    # Files are listed in runs between subfolders (see plan._walk); mini-batches must still end
    # at the same files, whatever the run and batch boundaries, odd names included.
    rng = random.Random(seed)
    stems = [b"a", b"b\\c", b"n\nl", b"\xff", b"z", b"a b"]
    data = tmp_path / "data"

    def build(folder: bytes, depth: int) -> None:
        os.makedirs(folder, exist_ok=True)  # noqa: PTH103
        for i in range(rng.randint(4, 9)):
            path = os.path.join(folder, rng.choice(stems) + b"%d" % i)  # noqa: PTH118
            if depth < 3 and rng.random() < 0.35:
                build(path, depth + 1)
            else:
                with open(path, "wb"):  # noqa: PTH123
                    pass

    build(os.fsencode(data), 0)
    expected = [os.fsdecode(p) for p in _reference_listing(os.fsencode(data))]
    assert len(expected) > 20
    for size in (1, 2, 3, 7, 1000):
        plan = create_plan(_definition([data, data], size=size), tmp_path / f"plan{size}")
        listed = [p for _, p in plan.iter_items()]
        assert listed == expected * 2
        cuts = [listed[i : i + size] for i in range(0, len(listed), size)]
        assert [plan.mini_batch(i) for i in range(plan.mini_batches_total)] == cuts

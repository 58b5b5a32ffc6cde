"""The collector's pause: off while any hot section runs, back as it was once the last one ends."""

import gc
from collections.abc import Iterator

import pytest

from catalog_import.garbage import CollectionPause


@pytest.fixture
def collector_enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_interleaved_sections_keep_the_collector_off_until_the_last_ends(collector_enabled: None) -> None:
    pause = CollectionPause()
    first, second = pause.paused(), pause.paused()

    first.__enter__()
    assert not gc.isenabled()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collector_enabled: None) -> None:
    gc.disable()
    with CollectionPause().paused():
        pass
    assert not gc.isenabled()
    gc.enable()


def test_a_section_that_raises_lets_the_collector_run_again(collector_enabled: None) -> None:
    pause = CollectionPause()
    with pytest.raises(RuntimeError), pause.paused():
        raise RuntimeError("the push failed")
    assert gc.isenabled()

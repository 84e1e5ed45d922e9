"""The next frame prepared on a second thread: the same output as one thread, errors and stops handled."""
from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("pymatting")

from ldmatte.video.pipeline import VideoMattingSettings, matte_video  # noqa: E402
from ldmatte.video.prefetch import Prefetcher  # noqa: E402
from ldmatte.video.synthetic import make_video, write_video  # noqa: E402

N = 7


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    work = tmp_path_factory.mktemp("prefetch")
    c = make_video(N, (72, 96), seed=5)
    write_video(work / "clip.mkv", c.frames, fps=12)
    return c, work / "clip.mkv"


def _run(path, out, mask, **kw):
    seen = []
    res = matte_video(path, out, mask, VideoMattingSettings(formats=("png",), **kw), on_frame=seen.append)
    return res, seen


@pytest.mark.parametrize("max_frames", [None, 4])
def test_same_output_with_and_without_the_second_thread(clip, tmp_path, max_frames):
    c, path = clip
    a, seen_a = _run(path, tmp_path / "a", c.first_mask, prefetch=True, max_frames=max_frames)
    b, seen_b = _run(path, tmp_path / "b", c.first_mask, prefetch=False, max_frames=max_frames)
    n = N if max_frames is None else max_frames
    assert a.frames == b.frames == n
    assert [f.index for f in seen_a] == list(range(n))
    for fa, fb in zip(seen_a, seen_b):  # masks, trimaps (detail band, plate) and alphas bit for bit
        assert np.array_equal(fa.mask, fb.mask) and np.array_equal(fa.trimap, fb.trimap)
        assert np.array_equal(fa.alpha, fb.alpha)
    assert a.frame_notes == b.frame_notes
    assert set(a.seconds) == set(b.seconds) and a.seconds["segment"] > 0


def test_a_resumed_run_with_the_thread_equals_an_uninterrupted_one(clip, tmp_path):
    c, path = clip
    full, seen_full = _run(path, tmp_path / "full", c.first_mask)
    _run(path, tmp_path / "part", c.first_mask, max_frames=3)
    rest, seen_rest = _run(path, tmp_path / "part", c.first_mask)
    assert rest.skipped == 3 and rest.matted == N - 3
    assert all(np.array_equal(x.alpha, y.alpha) for x, y in zip(seen_full, seen_rest))


def test_a_segmenter_error_reaches_the_caller_and_the_thread_ends(clip, tmp_path):
    c, path = clip

    class Breaks:
        def segment(self, frame, index):
            if index == 2:
                raise KeyboardInterrupt  # not caught by the guard: it must come out in the caller's thread
            return c.alphas[index] > 127

    with pytest.raises(KeyboardInterrupt):
        matte_video(path, tmp_path / "o", Breaks(), VideoMattingSettings(formats=("png",)))
    assert not [t for t in threading.enumerate() if t.name == "ldmatte-video-prepare"]


def test_stop_between_frames(clip, tmp_path):
    c, path = clip
    stop = threading.Event()
    seen = []

    def on_frame(f):
        seen.append(f.index)
        if f.index == 1:
            stop.set()

    res = matte_video(path, tmp_path / "o", c.first_mask, VideoMattingSettings(formats=("png",)), stop=stop,
                      on_frame=on_frame)  # fmt: skip
    assert res.interrupted and seen == [0, 1] and res.frames == 2
    assert not [t for t in threading.enumerate() if t.name == "ldmatte-video-prepare"]


def test_prefetcher_order_end_and_errors():
    calls = []

    def prepare(i):
        calls.append(i)
        return None if i == 3 else i

    p = Prefetcher(prepare)
    assert [p.take() for _ in range(5)] == [0, 1, 2, None, None]
    p.close()
    assert calls == [0, 1, 2, 3]  # nothing asked after the end
    q = Prefetcher(prepare, ahead=False)
    assert [q.take() for _ in range(5)] == [0, 1, 2, None, None]

    def fails(i):
        if i == 1:
            raise ValueError("frame 1")
        return i

    p = Prefetcher(fails)
    assert p.take() == 0
    with pytest.raises(ValueError, match="frame 1"):
        p.take()
    assert p.take() is None
    p.close()

"""The person prior (ldmatte video without --mask): a TFLite model with the selfie-segmentation model's interface.

The real model is not shipped; a tiny one with the same input and output (1 x S x S x 3 in [0, 1] -> person
probability) is written here with LiteRT's flatbuffer schema: it calls red pixels the person.
"""
from __future__ import annotations

import zipfile

import cv2
import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from ldmatte.video.person_prior import MODEL_IN_WHEEL, PersonPrior  # noqa: E402
from ldmatte.video.segmentation import SegmenterUnavailable  # noqa: E402


def tiny_person_model(size: int = 64) -> bytes:
    """sigmoid(4 r - 2 g - 2 b - 1) at every pixel: a 1 x 1 convolution, then the logistic."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as S

    buffers = [S.BufferT()]  # buffer 0 is empty by convention

    def buffer(arr):
        b = S.BufferT()
        b.data = np.frombuffer(np.ascontiguousarray(arr, np.float32).tobytes(), np.uint8).tolist()
        buffers.append(b)
        return len(buffers) - 1

    def tensor(name, shape, buf=0):
        t = S.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), S.TensorType.FLOAT32, buf
        return t

    def code(op):
        c = S.OperatorCodeT()
        c.builtinCode = c.deprecatedBuiltinCode = op
        c.version = 1
        return c

    tensors = [tensor("input", (1, size, size, 3)), tensor("w", (1, 1, 1, 3), buffer([4, -2, -2])),
               tensor("b", (1,), buffer([-1])), tensor("logit", (1, size, size, 1)),
               tensor("output", (1, size, size, 1))]  # fmt: skip
    opts = S.Conv2DOptionsT()
    opts.padding, opts.strideW, opts.strideH, opts.dilationWFactor, opts.dilationHFactor = S.Padding.SAME, 1, 1, 1, 1
    conv, sig = S.OperatorT(), S.OperatorT()
    conv.opcodeIndex, conv.inputs, conv.outputs = 0, [0, 1, 2], [3]
    conv.builtinOptionsType, conv.builtinOptions = S.BuiltinOptions.Conv2DOptions, opts
    sig.opcodeIndex, sig.inputs, sig.outputs = 1, [3], [4]
    graph = S.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators, graph.name = tensors, [0], [4], [conv, sig], "main"
    model = S.ModelT()
    model.version, model.subgraphs, model.buffers, model.description = 3, [graph], buffers, "test"
    model.operatorCodes = [code(S.BuiltinOperator.CONV_2D), code(S.BuiltinOperator.LOGISTIC)]
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    work = tmp_path_factory.mktemp("person")
    tflite = work / "person.tflite"
    tflite.write_bytes(tiny_person_model())
    wheel = work / "mediapipe-0.10.21-py3-none-any.whl"  # stands for a mediapipe wheel: the model at its path
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(MODEL_IN_WHEEL, tflite.read_bytes())
        z.writestr("mediapipe/__init__.py", "")
    return {"tflite": tflite, "wheel": wheel, "dir": work}


def _frame(cx, h=72, w=96):
    yy, xx = np.mgrid[:h, :w]
    person = (xx - cx) ** 2 + (yy - 36) ** 2 < 18**2
    f = np.zeros((h, w, 3), np.uint8)
    f[..., 1] = 150 + (xx % 7) * 10  # textured green
    f[person] = (220, 60, 50)
    return f, person


def test_prior_finds_the_person_from_a_file_or_a_wheel(models):
    f, person = _frame(40)
    a = PersonPrior(models["tflite"]).mask(f) > 0
    b = PersonPrior(models["wheel"]).mask(f) > 0
    assert (a == b).all()
    assert (a & person).sum() / (a | person).sum() > 0.9
    p = PersonPrior(models["tflite"]).probability(f)
    assert p.shape == person.shape and p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1


def test_command_without_a_mask(models, tmp_path, capsys):
    pytest.importorskip("av")
    pytest.importorskip("pymatting")
    from ldmatte.cli import main
    from ldmatte.video.synthetic import write_video

    clip = tmp_path / "clip.mkv"
    write_video(clip, [_frame(30 + 2 * t)[0] for t in range(5)], fps=12)
    out = tmp_path / "out"
    assert main(["video", str(clip), "-o", str(out), "--person-model", str(models["wheel"]), "--format", "png",
                 "-q"]) == 0  # fmt: skip
    assert len(list((out / "alpha").glob("*.png"))) == 5
    assert "person:" in (out / ".ldmatte-output.json").read_text()
    alpha = cv2.imread(str(out / "alpha" / "000000.png"), cv2.IMREAD_GRAYSCALE) > 127
    person = _frame(30)[1]
    assert (alpha & person).sum() / (alpha | person).sum() > 0.8
    # No model, a wheel without it, a file that is no model: one clear line each, exit 2.
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("mediapipe/__init__.py", "")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    capsys.readouterr()
    for i, extra in enumerate([[], ["--person-model", str(empty)], ["--person-model", str(junk)]]):
        assert main(["video", str(clip), "-o", str(tmp_path / f"o{i}"), *extra]) == 2
    err = capsys.readouterr().err
    assert "--person-model" in err and "holds no" in err and "not a TFLite model" in err and "Traceback" not in err


def test_no_person_is_a_clear_error(models, tmp_path, capsys):
    pytest.importorskip("av")
    from ldmatte.cli import main
    from ldmatte.video.synthetic import write_video

    clip = tmp_path / "green.mkv"
    write_video(clip, [np.full((48, 64, 3), (0, 200, 0), np.uint8)] * 2, fps=12)
    assert main(["video", str(clip), "-o", str(tmp_path / "o"), "--person-model", str(models["tflite"])]) == 2
    assert "no person" in capsys.readouterr().err
    with pytest.raises(SegmenterUnavailable, match="--person-model"):
        PersonPrior(tmp_path / "missing.tflite")


def _away_and_back():
    """The person walks out on the left (x = 30 ... -26), is gone for 3 frames, then steps out from behind
    something on the right (x = 70, 71, ...)."""
    frames = [_frame(30 - 8 * t) for t in range(8)]
    frames += [_frame(-100) for _ in range(3)]
    frames += [_frame(70 + t) for t in range(6)]
    return frames


def test_the_prior_re_finds_a_person_who_comes_back_elsewhere(models):
    from ldmatte.video.carried import CarriedSegmenter

    prior = PersonPrior(models["tflite"])
    frames = _away_and_back()
    seen = {}
    for reseed in (None, prior.mask):
        seg = CarriedSegmenter(prior.mask(frames[0][0]), reseed=reseed)
        masks, notes = [], []
        for i, (f, _) in enumerate(frames):
            masks.append(seg.segment(f, i) > 127)
            notes.append(seg.note)
        seen[reseed is not None] = masks, notes
    masks, notes = seen[True]
    assert not any(m.any() for m in masks[8:11])  # gone: nothing is guessed
    back = [i for i, n in enumerate(notes) if n and "prior" in n[1]]
    assert back and 11 <= back[0] <= 13  # re-found once it is back (on the next refind frame)
    for (_, person), m in list(zip(frames, masks))[back[0]:]:
        assert (m & person).sum() / (m | person).sum() > 0.8
    # Without the prior the first frame's mask, carried by flow, does not find it at its new place.
    assert not any(m.any() for m in seen[False][0][11:])


def test_the_command_without_a_mask_re_seeds_with_the_prior(models, tmp_path):
    pytest.importorskip("av")
    pytest.importorskip("pymatting")
    import json

    from ldmatte.cli import main
    from ldmatte.video.synthetic import write_video

    frames = _away_and_back()
    clip = tmp_path / "clip.mkv"
    write_video(clip, [f for f, _ in frames], fps=12)
    out = tmp_path / "out"
    main(["video", str(clip), "-o", str(out), "--person-model", str(models["tflite"]), "--format", "png", "-q"])
    notes = json.loads((out / "video.json").read_text())["frame_notes"]
    assert any("prior" in n["reason"] for n in notes)
    last = cv2.imread(str(out / "alpha" / f"{len(frames) - 1:06d}.png"), cv2.IMREAD_GRAYSCALE) > 127
    person = frames[-1][1]
    assert (last & person).sum() / (last | person).sum() > 0.8

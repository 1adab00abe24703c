"""Rewrite a tagger's 1-D convolutions as 2-D ones of height 1, with the same weights.

    python conv2d.py ../restore-fast.onnx ../restore-fast.onnx

Why: tract runs a fixed-shape 2-D convolution of a small kernel as a direct spatial
convolution, but a 1-D one through im2col (copy every window, then a matrix product). For the
48-channel tagger that sohoa runs in fixed rows (`sohoa restore --fast`) the 2-D form is
about a sixth faster (`examples/tagbench`), for the same logits. The graph
Gather → Transpose → Conv1d… → Transpose becomes Gather → Transpose → Unsqueeze → Conv2d… →
Squeeze → Transpose; Relu and Add do not care about the extra axis.

The rewritten model is checked against the original on random input with ONNX's reference
evaluator before it is written.
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator


def to_2d(model):
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    g.initializer.append(numpy_helper.from_array(np.array([2], dtype=np.int64), "height_axis"))
    convs = [n for n in g.node if n.op_type == "Conv"]
    first_in, last_out = convs[0].input[0], convs[-1].output[0]
    nodes = []
    for n in g.node:
        if n.op_type != "Conv":
            nodes.append(n)
            if first_in in n.output:
                nodes.append(helper.make_node("Unsqueeze", [first_in, "height_axis"], [first_in + "_2d"]))
            continue
        ins = list(n.input)
        if ins[0] == first_in:
            ins[0] = first_in + "_2d"
        w = inits[ins[1]]
        w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w)[:, :, None, :], w.name))
        at = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if len(at["kernel_shape"]) != 1:
            raise SystemExit(f"{n.name}: not a 1-D convolution")
        out = n.output[0]
        nodes.append(helper.make_node(
            "Conv", ins, [out + "_2d" if out == last_out else out], name=n.name,
            kernel_shape=[1, at["kernel_shape"][0]], dilations=[1, at.get("dilations", [1])[0]],
            pads=[0, at["pads"][0], 0, at["pads"][1]], strides=[1, at.get("strides", [1])[0]],
            group=at.get("group", 1)))
        if out == last_out:
            nodes.append(helper.make_node("Squeeze", [out + "_2d", "height_axis"], [out]))
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model)
    return model


def main():
    src, dst = sys.argv[1], sys.argv[2]
    before = onnx.load(src)
    if any(n.op_type == "Unsqueeze" for n in before.graph.node):
        raise SystemExit(f"{src}: already rewritten")
    after = to_2d(onnx.load(src))
    ids = np.random.default_rng(0).integers(2, 200, size=(2, 300), dtype=np.int64)
    want = ReferenceEvaluator(before).run(None, {"ids": ids})[0]
    got = ReferenceEvaluator(after).run(None, {"ids": ids})[0]
    diff = float(np.abs(want - got).max())
    if diff > 1e-4:
        raise SystemExit(f"the rewritten model differs by {diff}")
    onnx.save(after, dst)
    print(f"{dst}: 2-D convolutions, largest logit difference {diff:.2e}")


if __name__ == "__main__":
    main()

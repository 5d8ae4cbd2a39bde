"""CRF layer: BIO constraints hold in decoding, NLL and Viterbi equal brute force."""

from __future__ import annotations

import itertools

import pytest
import torch

from dapt.ner.crf import CRF, IGNORE_INDEX, bio_constraints

LABELS = ["O", "B-X", "I-X"]
LABELS5 = ["O", "B-X", "I-X", "B-Y", "I-Y"]


def legal(path: list[int], labels: list[str]) -> bool:
    allowed, start = bio_constraints(labels)
    return bool(start[path[0]]) and all(allowed[a, b] for a, b in zip(path, path[1:]))


def random_crf(labels: list[str], seed: int) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(labels)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def brute(crf: CRF, em: torch.Tensor, n: int) -> tuple[torch.Tensor, dict]:
    """log Z and every path's score for one row of length n."""
    scores = {}
    for path in itertools.product(range(crf.num_labels), repeat=n):
        tags = torch.tensor([list(path)])
        mask = torch.ones(1, n, dtype=torch.bool)
        scores[path] = crf.path_score(em[None, :n], tags, mask)[0]
    return torch.logsumexp(torch.stack(list(scores.values())), 0), scores


def test_constraint_matrix():
    allowed, start = bio_constraints(LABELS5)
    idx = {lab: i for i, lab in enumerate(LABELS5)}
    assert not allowed[idx["O"], idx["I-X"]]
    assert not allowed[idx["B-Y"], idx["I-X"]] and not allowed[idx["I-Y"], idx["I-X"]]
    assert allowed[idx["B-X"], idx["I-X"]] and allowed[idx["I-X"], idx["I-X"]]
    assert allowed[idx["I-X"], idx["B-Y"]] and allowed[idx["O"], idx["B-X"]]
    assert start.tolist() == [True, True, False, True, False]
    with pytest.raises(ValueError):
        bio_constraints(["O", "X"])


def test_decode_never_forbidden_even_when_emissions_favour_it():
    crf = random_crf(LABELS5, 0)
    torch.manual_seed(1)
    em = torch.randn(16, 9, 5)
    em[:, :, 2] += 50.0  # I-X everywhere, incl. the first position and after O/I-Y
    em[:, ::3, 4] += 80.0  # every third position I-Y even more
    lengths = torch.randint(1, 10, (16,))
    mask = torch.arange(9)[None] < lengths[:, None]
    paths = crf.decode(em, mask)
    assert [len(p) for p in paths] == lengths.tolist()
    assert all(legal(p, LABELS5) for p in paths)
    # the same in half precision emissions
    assert all(legal(p, LABELS5) for p in crf.decode(em.to(torch.bfloat16), mask))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nll_and_viterbi_equal_brute_force(seed):
    crf = random_crf(LABELS, seed)
    em = torch.randn(4, 3, 3)
    lengths = [3, 2, 1, 3]
    mask = torch.arange(3)[None] < torch.tensor(lengths)[:, None]
    tags = torch.tensor([[1, 2, 0], [0, 1, IGNORE_INDEX], [1, IGNORE_INDEX, IGNORE_INDEX],
                         [0, 0, 1]])
    nll = crf.neg_log_likelihood(em, tags, mask)
    expected, decoded = [], crf.decode(em, mask)
    for b, n in enumerate(lengths):
        log_z, scores = brute(crf, em[b], n)
        gold = scores[tuple(tags[b, :n].tolist())]
        expected.append(log_z - gold)
        assert torch.allclose(crf.log_partition(em[b : b + 1, :n],
                                                torch.ones(1, n, dtype=torch.bool))[0], log_z,
                              atol=1e-4)
        best = max(scores, key=lambda p: scores[p].item())
        assert tuple(decoded[b]) == best
        assert legal(list(best), LABELS)
    assert torch.allclose(nll, torch.stack(expected).mean(), atol=1e-4)
    # tags of -100 alone (no mask) give the same loss
    assert torch.allclose(crf.neg_log_likelihood(em, tags), nll, atol=1e-5)


def test_nll_gradient_and_prefix_mask_assertion():
    crf = random_crf(LABELS, 3)
    em = torch.randn(2, 4, 3, requires_grad=True)
    tags = torch.tensor([[1, 2, 2, 0], [0, 1, 2, IGNORE_INDEX]])
    loss = crf.neg_log_likelihood(em, tags)
    loss.backward()
    assert torch.isfinite(loss) and loss > 0
    assert em.grad is not None and torch.isfinite(em.grad).all()
    assert crf.transitions.grad[0, 2] == 0  # forbidden O -> I-X gets no gradient
    with pytest.raises(AssertionError):
        crf.neg_log_likelihood(em, tags, torch.tensor([[1, 0, 1, 1], [1, 1, 1, 0]]))

"""The greedy fit's depth rule, a pure function of the gains and held-out likelihoods."""

import itertools

import numpy as np
import pytest

from gauss_flows.fit.depth import DepthDecision, depth_decision, noise_gain

TOL = 0.1


def decide(gains, held_out=None, *, n_layers=None, patience=2, max_layers=10):
    return depth_decision(
        gains, held_out, n_layers=n_layers, tol=TOL, patience=patience, max_layers=max_layers
    )


# ---- a fixed depth ----


def test_fixed_depth_goes_on_until_n_layers_whatever_the_gains():
    assert decide([0.0, 0.0], n_layers=3) == DepthDecision(stop=False, keep=2)
    assert decide([0.0, 0.0, 0.0], n_layers=3) == DepthDecision(stop=True, keep=3)


def test_fixed_depth_ignores_held_out_likelihoods_and_max_layers():
    falling = [-1.0, -2.0, -3.0, -4.0]
    assert decide([0.5, 0.5, 0.5], falling, n_layers=4, max_layers=2) == (False, 3)
    assert decide([0.5, 0.5, 0.5, 0.5], falling + [-5.0], n_layers=4, max_layers=2) == (True, 4)


# ---- the gain rule (no held-out rows) ----


def test_gain_rule_waits_for_patience_blocks():
    assert decide([0.01]) == (False, 1)  # one block below tol, patience 2


def test_gain_rule_goes_on_while_a_recent_block_is_useful():
    assert decide([0.5, 0.01, 0.2]) == (False, 3)
    assert decide([0.5, 0.2, 0.01]) == (False, 3)


def test_gain_rule_stops_and_keeps_up_to_the_last_useful_block():
    assert decide([0.5, 0.2, 0.01, 0.02]) == (True, 2)
    # An earlier useless block between useful ones is kept.
    assert decide([0.5, 0.01, 0.3, 0.0, 0.05], patience=2) == (True, 3)


def test_gain_rule_reaching_tol_exactly_is_useful():
    assert decide([TOL, TOL]) == (False, 2)
    assert decide([TOL, 0.0, 0.0]) == (True, 1)


def test_gain_rule_keeps_one_block_when_none_was_useful():
    assert decide([0.01, 0.02]) == (True, 1)


def test_gain_rule_keeps_every_block_at_max_layers():
    assert decide([0.5, 0.5, 0.5], max_layers=3) == (True, 3)


def test_gain_rule_truncates_at_max_layers_when_it_fires_there():
    assert decide([0.5, 0.01, 0.01], max_layers=3) == (True, 1)


# ---- the held-out rule ----


def test_held_out_rule_goes_on_while_the_best_is_recent():
    assert decide([0.5], [-3.0, -2.0]) == (False, 1)
    assert decide([0.5, 0.0], [-3.0, -2.0, -2.5]) == (False, 2)  # best 1 block old


def test_held_out_rule_stops_when_the_best_is_patience_blocks_old():
    assert decide([0.5, 0.4, 0.0, 0.0], [-3.0, -2.0, -1.5, -1.6, -1.7]) == (True, 2)


def test_held_out_rule_ignores_the_gains():
    """Gains below tol do not stop a fit judged on held-out rows."""
    assert decide([0.0, 0.0, 0.0], [-3.0, -2.9, -2.8, -2.7]) == (False, 3)


def test_held_out_rule_keeps_at_least_one_block():
    """No block beat the standardised data (best at 0 blocks): one block is kept."""
    assert decide([0.1, 0.1], [-1.0, -1.5, -2.0]) == (True, 1)


def test_held_out_rule_takes_the_first_of_tied_bests():
    assert decide([0.1, 0.1, 0.1], [-3.0, -1.0, -1.0, -1.2]) == (True, 1)


def test_held_out_rule_at_max_layers_keeps_up_to_the_best():
    assert decide([0.1, 0.1, 0.1], [-3.0, -2.0, -2.5, -1.0], max_layers=3) == (True, 3)
    assert decide([0.1, 0.1, 0.1], [-3.0, -2.0, -1.0, -1.5], max_layers=3) == (True, 2)
    assert decide([0.1, 0.1], [-1.0, -2.0, -1.5], max_layers=2, patience=5) == (True, 1)


def test_held_out_rule_with_patience_one():
    assert decide([0.1], [-3.0, -2.0], patience=1) == (False, 1)
    assert decide([0.1, 0.1], [-3.0, -2.0, -2.1], patience=1) == (True, 1)


def test_held_out_needs_one_entry_per_depth():
    with pytest.raises(ValueError, match="one entry more"):
        decide([0.1, 0.1], [-3.0, -2.0])


# ---- the rule as the greedy loop applied it ----


def loop_rule(gains, held_out, *, n_layers, tol, patience, max_layers):
    """The depth rule as written inline in the greedy loop, block by block."""
    blocks, seen, seen_held_out = [], [], None if held_out is None else [held_out[0]]
    for i in range(max_layers if n_layers is None else n_layers):
        blocks.append(i)
        seen.append(gains[i])
        if seen_held_out is not None:
            seen_held_out.append(held_out[i + 1])
            best = int(np.argmax(seen_held_out))
            if n_layers is None and len(seen_held_out) - 1 - best >= patience:
                return blocks[: max(best, 1)]
        elif n_layers is None and len(seen) >= patience and max(seen[-patience:]) < tol:
            useful = [j for j, g in enumerate(seen) if g >= tol]
            return blocks[: (useful[-1] + 1) if useful else 1]
    if n_layers is None and seen_held_out is not None and len(blocks) == max_layers:
        blocks = blocks[: max(int(np.argmax(seen_held_out)), 1)]
    return blocks


def decision_rule(gains, held_out, **settings):
    """The blocks kept when depth_decision is asked after every block."""
    for depth in itertools.count(1):
        seen_held_out = None if held_out is None else held_out[: depth + 1]
        stop, keep = depth_decision(gains[:depth], seen_held_out, **settings)
        if stop:
            return list(range(keep))


@pytest.mark.parametrize("use_held_out", [False, True])
def test_decision_matches_the_loop_rule_on_random_sequences(use_held_out):
    rng = np.random.default_rng(0)
    for _ in range(400):
        max_layers = int(rng.integers(1, 9))
        settings = dict(
            n_layers=None if rng.random() < 0.7 else int(rng.integers(1, 9)),
            tol=0.1,
            patience=int(rng.integers(1, 4)),
            max_layers=max_layers,
        )
        # Coarse values, so that ties and gains exactly at tol occur.
        gains = list(rng.choice([0.0, 0.05, 0.1, 0.3], 10))
        held_out = list(np.cumsum(rng.choice([-0.2, 0.0, 0.1, 0.3], 11))) if use_held_out else None
        assert decision_rule(gains, held_out, **settings) == loop_rule(gains, held_out, **settings)


def test_noise_gain_is_the_parameter_count_over_twice_the_rows():
    assert noise_gain(3, 8, 1000) == 3 * 23 / 2000

"""UniMP read-outs of the answer distribution."""
import numpy as np
import pytest


def test_rating_readouts_on_hand_made_distributions():
    from models.unimp.decode import read_rating

    probs = np.array([[0.0, 0.1, 0.2, 0.3, 0.4],    # mode 5, mean 4.0, median 4 (cdf .6 at 4)
                      [0.5, 0.0, 0.0, 0.0, 0.5],    # tie: argmax is the first; mean 3; median 1
                      [0.0, 0.0, 1.0, 0.0, 0.0]])
    assert read_rating(probs, "token").tolist() == [5, 1, 3]
    assert np.allclose(read_rating(probs, "expectation"), [4.0, 3.0, 3.0])
    assert read_rating(probs, "median").tolist() == [4, 1, 3]
    with pytest.raises(ValueError, match="read-out"):
        read_rating(probs, "mode")


def test_probe_auc_on_a_hand_example():
    from models.unimp.probe import auc

    # scikit-learn's documented example: 0.75; ties share their rank; one class only: undefined
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert auc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    assert np.isnan(auc(np.array([0.1, 0.2]), np.array([1, 1])))

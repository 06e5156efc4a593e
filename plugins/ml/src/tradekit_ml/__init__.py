"""Machine-learning models for tradekit, and a strategy that trades on them.

Models (entry points in ``tradekit.models``):

* ``logreg``: logistic regression (scikit-learn) of the next bars' direction;
* ``gbm``: gradient-boosted trees (LightGBM) of the same;
* ``regime``: labels each bar uptrend, downtrend, range or high volatility.

The strategy ``ml_signal`` (entry point in ``tradekit.strategies``) enters and
exits on a model's predicted probability. Train with ``tradekit model train``,
inspect with ``tradekit model info``; see this distribution's README.

Importing this package imports neither scikit-learn nor LightGBM: each is
imported by the model that needs it, when it fits or loads.
"""

__all__: list[str] = []

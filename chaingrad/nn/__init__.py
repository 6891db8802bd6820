"""Neural networks built from Values: modules, losses, optimizers, data and training.

micrograd's lecture code runs by changing only the import::

    from chaingrad.nn import Neuron, Layer, MLP      # was: from micrograd.nn import ...

>>> from chaingrad.nn import MLP, functional as F
>>> model = MLP(2, [16, 16, 1], seed=0)
>>> score = model([0.5, -1.0])
>>> loss = F.hinge_loss(score, 1) + 1e-4 * F.l2_penalty(model)
>>> loss.backward()
>>> len(model.parameters()), model.layers[0].neurons[0].w[0].grad != 0.0
(337, True)

Files: ``module.py`` (Module, state dicts, save/load), ``layers.py`` (Neuron,
Layer, MLP, Dropout, Sequential), ``conv.py`` (Conv2d, Conv1d, pooling,
Flatten), ``recurrent.py`` (RNN, LSTM, GRU and their cells), ``init.py`` (seeds,
weight initialisers),
``functional.py`` (activations, losses, penalties), ``optim.py`` (SGD, Adam,
AdamW, schedules), ``data.py`` (datasets, splits, minibatches), ``train.py``
(fit, evaluate, predict), ``plot.py`` (loss curve, decision boundary),
``demo.py`` (the ``chaingrad demo`` command); ``attention.py`` (Linear,
Embedding, LayerNorm, RMSNorm, MultiheadAttention, TransformerBlock), ``gpt.py``
(GPT), ``text.py`` (the names dataset, CharTokenizer). Importing this package
loads the standard library only; matplotlib, numpy, scikit-learn and tqdm are imported
by the functions that need them.
"""

from . import data, functional, init, optim
from .activations import LeakyReLU, ReLU, Sigmoid, Tanh
from .attention import Embedding, LayerNorm, Linear, MultiheadAttention, RMSNorm, TransformerBlock
from .conv import AvgPool1d, AvgPool2d, Conv1d, Conv2d, Flatten, MaxPool1d, MaxPool2d
from .gpt import GPT
from .layers import MLP, Dropout, Layer, Neuron, Sequential
from .module import Module, StateDictError
from .plot import plot_decision_boundary, plot_loss_curve
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .train import History, evaluate, fit, predict

__all__ = [
    "GPT",
    "MLP",
    "Dropout",
    "Embedding",
    "History",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "Module",
    "MultiheadAttention",
    "Neuron",
    "RMSNorm",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "StateDictError",
    "Tanh",
    "TransformerBlock",
    "data",
    "evaluate",
    "fit",
    "functional",
    "init",
    "optim",
    "plot_decision_boundary",
    "plot_loss_curve",
    "predict",
]

# --- convolution and pooling (conv.py) ---
__all__ += [
    "AvgPool1d",
    "AvgPool2d",
    "Conv1d",
    "Conv2d",
    "Flatten",
    "MaxPool1d",
    "MaxPool2d",
]

# --- recurrent networks (recurrent.py) ---
__all__ += ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell"]

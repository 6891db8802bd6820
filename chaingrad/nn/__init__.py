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

Files, one idea each:

* the module tree: ``module.py`` (Module), ``state_dict.py`` (parameters as
  floats by name, StateDictError), ``model_file.py`` (save/load as JSON),
  ``torch_export.py`` (``to_torch``), ``torch_twins.py`` (the torch classes of
  the Transformer block and the GPT);
* layers: ``layers.py`` (Neuron, Layer, MLP, Dropout, Sequential),
  ``activations.py`` (ReLU, Tanh, ...), ``linear.py`` (Linear), ``conv.py``
  (Conv2d, Conv1d, pooling, Flatten), ``recurrent.py`` (RNN, LSTM, GRU and
  their cells), ``embedding.py`` (Embedding), ``norm.py`` (LayerNorm,
  RMSNorm), ``attention.py`` (MultiheadAttention), ``transformer.py``
  (TransformerBlock), ``gpt.py`` (GPT);
* training: ``init.py`` (seeds, weight initialisers), ``functional.py``
  (activations, losses, penalties), ``optim.py`` (SGD, Adam, AdamW,
  schedules), ``data.py`` (datasets, splits, minibatches), ``text.py`` (the
  names dataset, CharTokenizer), ``train.py`` (fit, evaluate, predict),
  ``plot.py`` (loss curve, decision boundary), ``demo.py`` (the ``chaingrad
  demo`` command).

Importing this package loads the standard library only; matplotlib, numpy,
scikit-learn and tqdm are imported by the functions that need them.
"""

from . import data, functional, init, optim
from .activations import LeakyReLU, ReLU, Sigmoid, Tanh
from .attention import MultiheadAttention
from .conv import AvgPool1d, AvgPool2d, Conv1d, Conv2d, Flatten, MaxPool1d, MaxPool2d
from .embedding import Embedding
from .gpt import GPT
from .layers import MLP, Dropout, Layer, Neuron, Sequential
from .linear import Linear
from .module import Module
from .norm import LayerNorm, RMSNorm
from .plot import plot_decision_boundary, plot_loss_curve
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .state_dict import StateDictError
from .train import History, evaluate, fit, predict
from .transformer import TransformerBlock

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

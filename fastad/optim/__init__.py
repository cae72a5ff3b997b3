"""fastad.optim: torch.optim's optimizers and learning-rate schedulers.

SGD, Adam and AdamW update every parameter of a group in one compiled call
(fastad._kernels.sgd_step / adam_step); the others run torch.optim's
single-tensor update as whole-array numpy arithmetic on each parameter.
"""
from fastad.optim import lr_scheduler  # noqa: F401
from fastad.optim.adadelta import Adadelta
from fastad.optim.adagrad import Adagrad
from fastad.optim.adam import Adam, AdamW
from fastad.optim.adamax import Adamax
from fastad.optim.asgd import ASGD
from fastad.optim.lbfgs import LBFGS
from fastad.optim.nadam import NAdam
from fastad.optim.optimizer import Optimizer
from fastad.optim.radam import RAdam
from fastad.optim.rmsprop import RMSprop
from fastad.optim.rprop import Rprop
from fastad.optim.sgd import SGD

# only PyTorch's names are public: the implementation modules are not (as in torch.optim)
del adadelta, adagrad, adam, adamax, asgd, lbfgs, nadam  # noqa: F821
del optimizer, radam, rmsprop, rprop, sgd  # noqa: F821

__all__ = ["Adadelta", "Adagrad", "Adam", "Adamax", "AdamW", "ASGD", "LBFGS", "lr_scheduler",
           "NAdam", "Optimizer", "RAdam", "RMSprop", "Rprop", "SGD"]

"""fastad.nn: modules, parameters, functional and init, as torch.nn."""
from fastad.nn import functional, init, parallel, utils  # noqa: F401
from fastad.nn.modules import *  # noqa: F401,F403
from fastad.nn.modules import (Flatten, Identity, Linear, Module, ModuleList,  # noqa: F401
                               Parameter, PReLU, RReLU, Sequential)
from fastad.nn._layers.activation import *  # noqa: F401,F403,E402
from fastad.nn._layers.container import *  # noqa: F401,F403,E402
from fastad.nn._layers.conv import *  # noqa: F401,F403,E402
from fastad.nn._layers.distance import *  # noqa: F401,F403,E402
from fastad.nn._layers.dropout import *  # noqa: F401,F403,E402
from fastad.nn._layers.linear import *  # noqa: F401,F403,E402
from fastad.nn._layers.loss import *  # noqa: F401,F403,E402
from fastad.nn._layers.normalization import *  # noqa: F401,F403,E402
from fastad.nn._layers.padding import *  # noqa: F401,F403,E402
from fastad.nn._layers.pooling import *  # noqa: F401,F403,E402
from fastad.nn._layers.rnn import *  # noqa: F401,F403,E402
from fastad.nn._layers.sparse import *  # noqa: F401,F403,E402
from fastad.nn._layers.transformer import *  # noqa: F401,F403,E402

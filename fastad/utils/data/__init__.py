"""fastad.utils.data, as torch.utils.data: datasets, samplers and the DataLoader."""
from fastad.utils.data.dataset import (  # noqa: F401
    ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
    random_split)
from fastad.utils.data.sampler import (BatchSampler, RandomSampler, Sampler,  # noqa: F401
                                       SequentialSampler, SubsetRandomSampler,
                                       WeightedRandomSampler)
from fastad.utils.data.collate import default_collate, default_convert  # noqa: F401
from fastad.utils.data.dataloader import DataLoader, get_worker_info  # noqa: F401
from fastad.utils.data.distributed import DistributedSampler  # noqa: F401

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
           "DistributedSampler", "IterableDataset", "RandomSampler", "Sampler",
           "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler", "TensorDataset",
           "WeightedRandomSampler", "default_collate", "default_convert", "get_worker_info",
           "random_split"]

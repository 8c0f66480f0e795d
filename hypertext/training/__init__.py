"""Training a TextAutoencoder end to end: what `train.py` (`hypertext-train`) runs, step by step, as library
functions. One concern per module, in the manner of flax's `examples/lm1b`:

- `trainer`: `train()`, the whole run; `compile_model` and its `learning_rate_schedule`; `get_tokenizer`;
  `warm_start` (`init_from`).
- `callbacks`: the best checkpoint (`AtomicBestCheckpoint`, without optimizer state), the crash-safe backup for
  `--resume` (`RunBackup`, `restore_backup`, with it) and the stop on a non-finite loss (`StopOnNonFiniteLoss`).
- `run_dir`: the run folder: file names, `prepare_output_dir`, atomic writes (`save_model_atomically`,
  `write_history_csv`), `remove_stale_temporary_files`, and `saved_run` (a run's settings, for `--resume`).
- `plots`: `plot_curves`.
- `distribution`: `setup_distribution` (strategies "none", "mirrored", "multi-worker") and the `Distributed` it
  returns; `set_cpu_devices`.
- `errors`: `OutputDirError` and `TrainingError`.

Every public name is importable from `hypertext.training` itself.
"""

from hypertext.training.callbacks import AtomicBestCheckpoint, RunBackup, StopOnNonFiniteLoss, restore_backup
from hypertext.training.distribution import STRATEGIES, Distributed, set_cpu_devices, setup_distribution
from hypertext.training.errors import OutputDirError, TrainingError
from hypertext.training.trainer import compile_model, get_tokenizer, learning_rate_schedule, train
from hypertext.training.plots import plot_curves
from hypertext.training.run_dir import (BACKUP_DIR, CONFIG_FILE, HISTORY_FILE, MODEL_FILE, TMP_PREFIX, TOKENIZER_FILE,
                                        prepare_output_dir, remove_stale_temporary_files, save_model_atomically,
                                        saved_run, write_atomically, write_history_csv, write_json_atomically)

__all__ = ["AtomicBestCheckpoint", "BACKUP_DIR", "CONFIG_FILE", "Distributed", "HISTORY_FILE", "MODEL_FILE",
           "OutputDirError", "RunBackup", "STRATEGIES", "StopOnNonFiniteLoss", "TMP_PREFIX", "TOKENIZER_FILE",
           "TrainingError", "compile_model", "get_tokenizer", "learning_rate_schedule", "plot_curves",
           "prepare_output_dir", "remove_stale_temporary_files", "restore_backup", "save_model_atomically",
           "saved_run", "set_cpu_devices", "setup_distribution", "train", "write_atomically", "write_history_csv",
           "write_json_atomically"]

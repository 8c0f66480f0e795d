"""Data parallelism: the one place that picks a distribution strategy for `train()`.

Three strategies, all run by existing engines:

- `"none"`: one device, no strategy.
- `"mirrored"`: data parallel over every local device of one process (the GPUs, else the CPU's logical devices):
  `tf.distribute.MirroredStrategy` on TensorFlow, `keras.distribution.DataParallel` on JAX. PyTorch has no Keras
  data-parallel engine, so it is refused.
- `"multi-worker"`: several processes, on one or several machines, JAX only: `keras.distribution.initialize()` joins
  the processes (it reads `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `KERAS_DISTRIBUTION_NUM_PROCESSES` and
  `KERAS_DISTRIBUTION_PROCESS_ID`), then `keras.distribution.DataParallel` spans every device of every process.
  On CPUs the collectives go through gloo. TensorFlow's `MultiWorkerMirroredStrategy` does not work with Keras 3
  (keras-team/keras#20585), so TF is refused.

In every case the global batch is `batch_size`, split evenly over the replicas. Keras shards each global batch
between the processes of a multi-worker run (`DataParallel`'s `distribute_dataset`: `rebatch` to the per-process
size, then `shard`): every process builds the same seeded batch sequence and feeds its own slice of each batch.
"""

import contextlib
import dataclasses
import hashlib
import os

import keras
import numpy as np

STRATEGIES = ("none", "mirrored", "multi-worker")
JOB_ENV = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_PROCESS_ID")


@dataclasses.dataclass(frozen=True)
class Distributed:
    """How a run is spread over devices and processes (what `setup_distribution` returns).

    Attributes:
        strategy: "none", "mirrored" or "multi-worker".
        num_replicas: model replicas, over every process (devices that share each global batch).
        process_id: this process's index, 0 to `num_processes - 1`; process 0 is the chief, which alone writes.
        num_processes: processes in the run.
        engine: the engine object: a `tf.distribute.MirroredStrategy`, a `keras.distribution.DataParallel`, or None.
    """

    strategy: str = "none"
    num_replicas: int = 1
    process_id: int = 0
    num_processes: int = 1
    engine: object = None

    @property
    def is_chief(self):
        """Whether this process writes the run folder (process 0)."""
        return self.process_id == 0

    def scope(self):
        """The context to build, compile, restore and fit the model in: the strategy's or distribution's scope."""
        if self.engine is None:
            return contextlib.nullcontext()
        return self.engine.scope()

    @contextlib.contextmanager
    def local(self):
        """Leaves the multi-worker distribution for a while, so the chief can save on its own: under the
        distribution every new variable (Keras creates some while saving) is placed over every process's devices,
        a collective step the other processes would never join. A no-op for the other strategies."""
        if self.strategy != "multi-worker":
            yield
            return
        current = keras.distribution.distribution()
        keras.distribution.set_distribution(None)
        try:
            yield
        finally:
            keras.distribution.set_distribution(current)

    def check_same_everywhere(self, data, what):
        """Raises ValueError unless `data` (bytes) is the same in every process of a multi-worker run."""
        if self.num_processes == 1:
            return
        from jax.experimental import multihost_utils

        digest = np.frombuffer(hashlib.sha256(data).digest(), dtype="uint8")
        try:
            multihost_utils.assert_equal(digest)
        except AssertionError:
            raise ValueError(f"The processes of the multi-worker run do not have the same {what}.") from None

    def finish(self):
        """Ends the multi-process session after training, every process at once, so that none waits at exit for
        another (the chief still evaluates). A no-op for the other strategies."""
        if self.strategy == "multi-worker":
            import jax

            keras.distribution.set_distribution(None)
            jax.distributed.shutdown()


def _check_choice(strategy, cpu_devices, backend):
    if strategy not in STRATEGIES:
        raise ValueError(f"`distribute` must be one of {', '.join(repr(s) for s in STRATEGIES)}. "
                         f"Received: distribute={strategy!r}")
    if cpu_devices is not None and (isinstance(cpu_devices, bool) or not isinstance(cpu_devices, int)
                                    or cpu_devices < 1):
        raise ValueError(f"`cpu_devices` must be an integer >= 1 (or None: the CPU as one device). "
                         f"Received: cpu_devices={cpu_devices!r}")
    if backend == "torch" and strategy != "none":
        raise ValueError(f"`distribute={strategy!r}` needs the TensorFlow or JAX backend: Keras has no data-parallel "
                         "engine for PyTorch. Set KERAS_BACKEND=jax (or tensorflow), or use distribute='none'. "
                         f"Received: distribute={strategy!r} on backend 'torch'")
    if backend == "tensorflow" and strategy == "multi-worker":
        raise ValueError("`distribute='multi-worker'` needs the JAX backend (KERAS_BACKEND=jax): TensorFlow's "
                         "MultiWorkerMirroredStrategy does not work with Keras 3 (keras-team/keras#20585). "
                         "Received: distribute='multi-worker' on backend 'tensorflow'")
    if strategy == "multi-worker":
        missing = [name for name in JOB_ENV if not os.environ.get(name)]
        if missing:
            raise ValueError(f"`distribute='multi-worker'` reads the processes from the environment; set "
                             f"{', '.join(missing)} in every process (see the README). Received: no {missing[0]}")


def set_cpu_devices(count):
    """Splits the host CPU into `count` logical devices, so that data parallelism can be tried without
    accelerators. It must run before the backend starts its runtime (before any computation):

    - TensorFlow: `tf.config.set_logical_device_configuration` on the CPU;
    - JAX: the `jax_num_cpu_devices` option (what `XLA_FLAGS=--xla_force_host_platform_device_count=N` sets, but
      it can be set after `import jax`, as long as nothing has run yet).

    Calling it again with the count already in place does nothing. Raises ValueError when it is too late to split,
    or on PyTorch.
    """
    backend = keras.backend.backend()
    too_late = (f"`cpu_devices` must be set before {backend} starts its runtime: call train() (or "
                "set_cpu_devices) before any model or tensor is made in this process. ")
    if backend == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        current = tf.config.get_logical_device_configuration(cpu)
        if current is not None and len(current) == count:
            return
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        except RuntimeError:
            raise ValueError(too_late + f"Received: cpu_devices={count} after TensorFlow has started") from None
    elif backend == "jax":
        import jax

        if jax.config.jax_num_cpu_devices == count:
            return
        # The logical devices share the cores: on a busy machine one device's thread can reach a collective long
        # after the other's, past XLA's default 40 s, and XLA then aborts the process ("Termination timeout for
        # all reduce ... exceeded", seen in CI). Wait up to 10 minutes instead. XLA reads the flag when JAX's CPU
        # client starts, which is after this point when nothing has run yet.
        flag = "--xla_cpu_collective_call_terminate_timeout_seconds"
        if flag not in os.environ.get("XLA_FLAGS", ""):
            os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}=600".strip()
        try:
            jax.config.update("jax_num_cpu_devices", count)
        except RuntimeError:
            raise ValueError(too_late + f"Received: cpu_devices={count} after JAX has started") from None
    else:
        raise ValueError(f"`cpu_devices` is for the TensorFlow and JAX backends. Received: cpu_devices={count} on "
                         f"backend {backend!r}")


def _join_processes():
    """`keras.distribution.initialize()` with gloo collectives for CPUs (GPUs use NCCL whatever this says)."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        keras.distribution.initialize()
    except RuntimeError as e:
        raise ValueError("`distribute='multi-worker'` must join the processes before JAX runs anything; call "
                         f"train() first thing in the process. JAX said: {e}") from None


def setup_distribution(strategy="none", cpu_devices=None, batch_size=None):
    """Checks the choice, splits the CPU if asked, joins the processes of a multi-worker run, and returns the
    `Distributed` that `train()` builds and fits the model under. Call it before anything runs on the backend.

    Args:
        strategy: "none", "mirrored" or "multi-worker" (see the module docstring).
        cpu_devices: None, or split the CPU into this many logical devices (`set_cpu_devices`).
        batch_size: the global batch; when given, it must split evenly over the replicas.

    Raises:
        ValueError: a bad or unsupported choice (with the reason), or a batch that does not split evenly.
    """
    backend = keras.backend.backend()
    _check_choice(strategy, cpu_devices, backend)
    if cpu_devices is not None:
        set_cpu_devices(cpu_devices)
    if strategy == "none":
        return Distributed()
    if strategy == "multi-worker":
        _join_processes()
    if backend == "tensorflow":
        import tensorflow as tf

        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        engine = tf.distribute.MirroredStrategy(devices=[d.name for d in devices])
        replicas = engine.num_replicas_in_sync
    else:
        engine = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
        replicas = engine.num_model_replicas
    if batch_size is not None and batch_size % replicas:
        raise ValueError(f"`batch_size` must be a multiple of the number of replicas ({replicas}, with "
                         f"distribute={strategy!r}): the global batch is split evenly. Received: batch_size={batch_size}")
    if strategy == "multi-worker":
        import jax

        return Distributed(strategy, replicas, jax.process_index(), jax.process_count(), engine)
    return Distributed(strategy, replicas, engine=engine)

"""Typed, frozen run configuration: one dataclass per AMI module, composed into ``RunConfig``.

Every field has a default, so a TOML file only names what it changes. Field comments give units.
Values equal to ``"auto"`` are resolved by the configurator from the task (see
``ami.configurator.settings``); nothing mutates a config after it is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["reactive", "deliberative"]


@dataclass(frozen=True)
class EnvConfig:
    task: str = "InvertedPendulum-v5"
    """Gymnasium task id, e.g. ``HalfCheetah-v5``."""
    normalize_actions: bool = True
    """Rescale the action space to [-1, 1] so that one set of planner settings fits every task."""
    max_episode_steps: int = 0
    """Episode length limit in env steps; 0 keeps the task's own limit."""
    num_envs: int = 1
    """Copies of the task stepped together while training, as one Gymnasium vector env; evaluation uses one env."""
    vectorization: Literal["sync", "async"] = "sync"
    """With ``num_envs > 1``: ``sync`` steps the copies in this process, ``async`` in one subprocess each."""
    pixels: bool = False
    """Observe stacked camera frames ``(frame_stack, image_size, image_size, 3)`` uint8 instead of the state vector."""
    image_size: int = 64
    """Height and width of each rendered frame, in pixels."""
    frame_stack: int = 3
    """Frames per observation, oldest first; the first frame of an episode fills the stack."""
    camera: str = "auto"
    """Camera of pixel observations: ``auto`` for the task's default view (``envs.pixels.TASK_CAMERAS``) or a camera name of the model."""
    include_state: bool = False
    """With ``pixels``: observe a dict ``{"pixels", "state"}``, for agents that read both (the AMI agent reads pixels only)."""
    shadows: bool = False
    """Render shadows in pixel observations. Off by default, like reflections and the skybox, because they slow software rendering most (``envs.pixels.SCENE_FLAGS``)."""
    reflections: bool = False
    skybox: bool = False


@dataclass(frozen=True)
class PerceptionConfig:
    name: str = "mlp"
    """Registered encoder class (``ami.perception.ENCODERS``)."""
    latent_dim: int = 64
    hidden_dims: tuple[int, ...] = (256,)
    normalize_observations: bool = True
    """Standardize observations with running mean and variance before encoding."""
    conv_channels: int = 32
    """``conv`` encoder: output channels of each of its 4 convolution layers."""
    random_shift: int = 4
    """``conv`` encoder: in training updates, pad frames by this many pixels and crop them back at a random offset; 0 turns it off."""
    options: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for a user-registered encoder class."""


@dataclass(frozen=True)
class LevelConfig:
    """One level above level 0 of a hierarchical world model, an entry of ``world_model.levels``."""

    k: int = 3
    """Steps of the level below per step of this level. One step of this level spans the product of the k values up to it, in env steps."""
    latent_dim: int = 32
    """Size of this level's latent, the abstraction of the latent of the level below."""
    macro_action_dim: int = 16
    """Size of the macro-action: the latent summary of the env actions of one step of this level."""
    hidden_dims: tuple[int, ...] = (256,)
    """Hidden layer sizes of the abstraction encoder, the action-chunk encoder, the predictor and the reward head."""
    horizon: int = 3
    """Steps of this level in its multi-step latent loss. Sampled sub-trajectories cover them."""
    loss_coef: float = 1.0
    """Weight of this level's loss (latent, reward and VICReg terms) in the world-model loss."""
    latent_coef: float = 20.0
    reward_coef: float = 0.1
    reward_discount: float = 0.99
    """Per-env-step discount of the rewards summed over one step of this level, the reward head's target."""
    variance_coef: float = 1.0
    """VICReg variance term on this level's online latents."""
    covariance_coef: float = 0.04
    """VICReg covariance term on this level's online latents."""


@dataclass(frozen=True)
class WorldModelConfig:
    name: str = "jepa"
    """Registered world model class (``ami.world_model.WORLD_MODELS``)."""
    hidden_dims: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of the latent predictor and the reward and termination heads."""
    horizon: int = 3
    """Prediction steps of the multi-step latent loss (and length of sampled sub-trajectories)."""
    rho: float = 0.5
    """Per-step discount of the multi-step losses: step k is weighted rho**k."""
    latent_coef: float = 20.0
    reward_coef: float = 0.1
    termination_coef: float = 1.0
    termination_head: bool = True
    """Learn P(terminated); set false for tasks that never terminate (HalfCheetah, Reacher)."""
    variance_coef: float = 1.0
    """VICReg variance term: hinge on the per-dimension std of online latents."""
    covariance_coef: float = 0.04
    """VICReg covariance term: squared off-diagonal covariance of online latents."""
    target_tau: float = 0.01
    """EMA rate of the target encoder: target <- (1 - tau) * target + tau * online."""
    levels: tuple[LevelConfig, ...] = ()
    """Levels above level 0 of ``hjepa``, lowest first (``[[world_model.levels]]`` tables). ``hjepa`` with an empty list has one level with the ``LevelConfig`` defaults."""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CriticConfig:
    name: str = "ensemble"
    """Registered critic class (``ami.cost.CRITICS``)."""
    num_critics: int = 5
    hidden_dims: tuple[int, ...] = (256, 256)
    target_tau: float = 0.01
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CostConfig:
    intrinsic: dict[str, float] = field(default_factory=lambda: {"action_energy": 0.01})
    """Fixed, untrained cost terms by registered name (``ami.cost.INTRINSIC_COSTS``) and weight."""
    task_weight: float = 1.0
    """Weight of the task cost, the negative predicted reward."""
    discount: float | Literal["auto"] = "auto"
    """Per-step discount of costs; ``auto`` derives it from the episode length."""
    critic: CriticConfig = field(default_factory=CriticConfig)
    terms: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Task cost terms by name, each a table: ``term``, the registered class (``ami.cost.COST_TERMS``;
    default: the name), ``weight`` (default 1.0), and the class's own options, e.g.
    ``[cost.terms.speed] term = "target_velocity", target = 2.0``."""
    safety: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Safety limits by name, tables like those of ``terms``; intrinsic: the weight must be positive
    and no task weight scales them, e.g. ``[cost.safety.torso_angle] term = "quantity_range",
    quantity = "torso_angle", low = -0.2, high = 0.2, weight = 10.0``."""
    critic_weight: float = 1.0
    """Weight of the critic's cost-to-go at the planning horizon; 0 plans on the step costs alone,
    e.g. under a new cost at evaluation, where the critic still predicts the training cost."""
    quantity_hidden_dims: tuple[int, ...] = (64,)
    """Hidden layer sizes of the heads that predict physical quantities (x velocity, ...) from the latent."""


@dataclass(frozen=True)
class MemoryConfig:
    replay: str = "trajectory"
    """Registered replay buffer class (``ami.memory.REPLAY_BUFFERS``)."""
    capacity: int | Literal["auto"] = "auto"
    """Transitions kept; ``auto`` keeps every step of the run."""
    batch_size: int = 256
    """Sub-trajectories per update."""
    context_length: int = 16
    """Recent latents and actions kept in short-term memory."""


@dataclass(frozen=True)
class PolicyConfig:
    name: str = "squashed_gaussian"
    """Registered policy class (``ami.actor.POLICIES``)."""
    hidden_dims: tuple[int, ...] = (256, 256)
    log_std_min: float = -10.0
    log_std_max: float = 2.0
    entropy_coef: float = 1e-4
    """Weight of the entropy bonus, relative to the running scale of the critic's cost."""
    distill_coef: float = 0.0
    """Weight of the distillation term, >= 0, where 0 turns it off. The term is the mean squared error, in action
    units, between the policy's deterministic action and the planner's noise-free action, over the replay
    steps that the planner chose. Needs the ``trajectory`` replay (state observations)."""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HighLevelPlannerConfig:
    """Budget of the high level of the ``hierarchical`` planner (``actor.planner.high_level``)."""

    num_samples: int = 256
    """Candidate action sequences of ``horizon`` macro steps per iteration."""
    horizon: int = 4
    """Planning horizon in level-1 steps. One step spans ``world_model.levels[0].k`` env steps."""
    iterations: int = 4
    num_elites: int = 32
    temperature: float = 0.5
    """MPPI temperature of the high level, in cost units."""
    subgoal_weight: float = 1.0
    """Weight of the low level's subgoal cost: the distance between the level-1 abstraction of its last latent and the subgoal,
    as the first goal term measures level-1 distances (mean squared latent distance without a goal term)."""
    low_level_goal_weight: float = 1.0
    """Scale of the goal terms in the low level's cost. At 0 only the high level plans toward the goal, and the low level steers to the subgoal."""
    landmarks: int = 0
    """Landmarks of the subgoal graph (``ami.actor.landmarks``). At 0 the high level plans toward the goal. Above 0 it plans toward
    a waypoint on the shortest path through a graph of this many level-1 latents of stored observations, linked by the first
    goal term's level-1 distance."""
    landmark_neighbors: int = 8
    """Edges from each landmark to its nearest landmarks, and landmarks that a start or a goal attaches to."""
    waypoint_hops: int = 4
    """Hops along the shortest landmark path from the start to the waypoint; the goal itself once the path is shorter."""
    subgoal: Literal["plan", "waypoint"] = "plan"
    """Subgoal of the low level. ``"plan"``: the level-1 latent after the first chunk of the high level's MPPI plan.
    ``"waypoint"``: the landmark graph's waypoint itself, so the graph search is the whole high level and no level-1
    rollouts run. It needs ``landmarks`` and a goal term."""


@dataclass(frozen=True)
class PlannerConfig:
    name: str = "mppi"
    """Registered planner class (``ami.actor.PLANNERS``): ``mppi`` or ``cem``."""
    num_samples: int = 512
    """Candidate action sequences per iteration, policy samples included."""
    horizon: int = 3
    """Planning horizon in env steps; the critic scores what lies beyond it."""
    iterations: int = 6
    num_elites: int = 64
    temperature: float = 0.5
    """MPPI temperature in cost units: elite weights are exp(-(cost - min cost) / temperature)."""
    min_std: float = 0.05
    """Lower bound of the sampling std, as a fraction of half the action range."""
    max_std: float = 2.0
    """Initial and maximal sampling std, as a fraction of half the action range."""
    policy_fraction: float = 0.05
    """Share of the candidates drawn from the reactive policy."""
    warm_start: bool = True
    """Start each plan from the previous plan shifted by one step."""
    deterministic_action: Literal["mean", "elite"] = "mean"
    """Action of a deterministic plan (evaluation): ``mean``, the first action of the refit mean, or
    ``elite``, the first action of one elite drawn by its weight, without exploration noise, as
    TD-MPC evaluates. When the elites split between two good action sequences, their mean can be a
    bad action. An elite is always a sequence that was scored."""
    momentum: float = 0.1
    """CEM only: weight of the previous mean and std in each refit."""
    compile: bool = False
    """Run the world-model step and trajectory scoring through torch.compile; a failed compile logs a warning and runs uncompiled."""
    cuda_graphs: bool = False
    """With ``compile`` on CUDA, replay the compiled calls as CUDA graphs."""
    precision: Literal["fp32", "tf32", "bf16"] = "fp32"
    """Matmul precision of the planning rollouts; costs are always compared in fp32."""
    high_level: HighLevelPlannerConfig = field(default_factory=HighLevelPlannerConfig)
    """``hierarchical`` planner only: the high level's budget. The fields above set the low level's."""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActorConfig:
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)


@dataclass(frozen=True)
class GoalConfig:
    """Places of the goal and the position in a goal-conditioned task's observation (``configurator.goal``).

    The goal observation is the current observation with ``position_indices`` replaced by the
    goal entries and ``zero_indices`` set to 0. Its encoding is the goal of the
    ``goal_latent_distance`` cost term at every level. Empty lists mean the task has no goal.
    """

    goal_indices: tuple[int, ...] = ()
    """Observation entries that contain the goal, e.g. ``[4, 5]`` for obs = [pos(2), vel(2), goal(2)]."""
    position_indices: tuple[int, ...] = ()
    """Observation entries that the goal replaces in the goal observation, e.g. ``[0, 1]``, as many as ``goal_indices``."""
    zero_indices: tuple[int, ...] = ()
    """Observation entries set to 0 in the goal observation, e.g. velocities ``[2, 3]`` to ask for a stop at the goal."""


@dataclass(frozen=True)
class ConfiguratorConfig:
    name: str = "fixed"
    """Registered configurator class (``ami.configurator.CONFIGURATORS``)."""
    mode: Mode = "deliberative"
    """Mode used to act while training; evaluation runs the modes of ``train.eval_modes``."""
    deliberation_budget: float = 0.25
    """Target share of deliberative steps for configurators that choose the mode per step (``adaptive``), in [0, 1]."""
    goal: GoalConfig = field(default_factory=GoalConfig)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    total_steps: int = 10_000
    """Env steps of the run, seed steps included."""
    seed_steps: int = 1_000
    """Env steps with uniform random actions before the first update."""
    pretrain_updates: int | Literal["auto"] = "auto"
    """Updates made once, right after the seed steps; ``auto`` makes one per seed step."""
    updates_per_step: int = 1
    """Updates per env step: one vector step of ``env.num_envs`` envs makes ``num_envs * updates_per_step`` updates."""
    learning_rate: float = 3e-4
    encoder_lr_scale: float = 0.3
    """Learning rate of the online encoder relative to ``learning_rate``."""
    grad_clip_norm: float = 20.0
    eval_every: int = 2_000
    """Env steps between evaluations; each evaluates every mode in ``eval_modes``."""
    eval_episodes: int = 5
    eval_modes: tuple[Mode, ...] = ("reactive", "deliberative")
    log_every: int = 500
    """Env steps between scalar logs of the training metrics."""
    checkpoint_every: int = 5_000
    """Env steps between checkpoints that ``ami run --resume`` continues from; 0 saves only at the end."""
    max_nonfinite_updates: int = 10
    """Updates in a row with a non-finite loss or gradient before the run stops; each one is skipped."""


@dataclass(frozen=True)
class RunConfig:
    name: str = ""
    """Run name; the run folder is ``runs_dir/<task>/<name, or "ami" when empty>-<date>-<time>-s<seed>``."""
    seed: int = 0
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``."""
    runs_dir: str = "runs"
    num_threads: int = 0
    """CPU threads of PyTorch; 0 keeps PyTorch's default (one per core). Set 1 when several runs share the cores."""
    imports: tuple[str, ...] = ()
    """Modules imported before the modules are built, so that user-registered classes exist."""
    env: EnvConfig = field(default_factory=EnvConfig)
    perception: PerceptionConfig = field(default_factory=PerceptionConfig)
    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    cost: CostConfig = field(default_factory=CostConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    actor: ActorConfig = field(default_factory=ActorConfig)
    configurator: ConfiguratorConfig = field(default_factory=ConfiguratorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

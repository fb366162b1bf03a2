"""Landmark graph: stored level-1 latents linked by the goal distance, for subgoals that follow the corridors.

A goal distance that ranks far-apart states much as the straight line does leaves every wall a
local minimum of the goal cost. Chaining the distances between nearby stored states through a
graph gives long distances that go around the walls, as in Search on the Replay Buffer
(Eysenbach, Salakhutdinov and Levine, NeurIPS 2019). The high level of the hierarchical
planner then plans toward a waypoint a few hops along the shortest path instead of toward the
goal itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import torch

from ami.configurator.goal import GoalSetter
from ami.memory.replay import TrajectoryReplay
from ami.world_model.hjepa import HJEPAWorldModel

logger = logging.getLogger(__name__)

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``distance(latent (..., D), goal (..., D)) -> (...)``: the cost of going from each latent to its own goal."""

LANDMARK_POOL = 20_000
"""Stored observations drawn at random, among which the landmarks are chosen."""

PAIRWISE_CHUNK = 64
"""Landmark rows whose distances to all landmarks are computed in one call, to bound the memory of a learned distance."""


class LandmarkGraph:
    """Graph over landmark latents ``(N, D)`` with all shortest path lengths.

    Landmarks are linked to their mutual nearest neighbours (``mutual_neighbor_edges``) by
    ``distance``. ``path_lengths[i, j]`` is the length of the shortest path from ``i`` to ``j``
    (infinite when none exists) and ``next_hop[i, j]`` the landmark that follows ``i`` on it.
    A start and a goal attach to the ``num_neighbors`` landmarks nearest to them in Euclidean
    latent distance, with ``distance`` as the cost of the attaching edge. In a goal-conditioned
    task the landmarks, starts and goals are encoded from places (``place_latents``): the goal
    entries set to one fill and the velocities to 0. The goal in an observation moves its latent
    as much as the ball does, and with velocities the landmarks spread over speeds as well as
    positions, so that fewer of them cover each corridor.

    NOTE: one edge through a wall is enough to send every path that can use it through the
    wall. ``ami maze-eval`` records the rank correlation of the path lengths with the maze's
    path distance (``landmark_graph``); check it before trusting the waypoints.
    """

    def __init__(
        self,
        latents: torch.Tensor,
        distance: Distance,
        num_neighbors: int,
        observations: torch.Tensor | None = None,
        goal_fill: torch.Tensor | None = None,
    ) -> None:
        if latents.ndim != 2 or latents.shape[0] < 2:
            raise ValueError(f"a landmark graph needs latents of shape (N >= 2, D), got {tuple(latents.shape)}")
        if num_neighbors < 1:
            raise ValueError(f"num_neighbors must be positive, got {num_neighbors}")
        self.latents = latents
        self.distance = distance
        self.num_neighbors = min(num_neighbors, latents.shape[0] - 1)
        self.observations = observations
        """Places ``(N, obs_dim)`` of the landmarks, or None for a graph built from latents alone."""
        self.goal_fill = goal_fill
        """Goal entries ``(len(goal_indices),)`` of the places of the landmarks and queries; None without a goal."""

        pairwise = pairwise_distances(latents, distance)  # (N, N)
        self.edge_weights = mutual_neighbor_edges(pairwise, self.num_neighbors)
        self.path_lengths, self.next_hop = all_shortest_paths(self.edge_weights)

    def __len__(self) -> int:
        return self.latents.shape[0]

    @torch.no_grad()
    def waypoints(self, start: torch.Tensor, goal: torch.Tensor, hops: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the waypoint ``(B, D)`` of each start ``(B, D)`` on its way to its goal ``(B, D)``, and the path length ``(B,)``.

        The waypoint is the latent of the landmark of ``waypoint_nodes``, or the goal itself.
        """
        node, at_goal, length = self.waypoint_nodes(start, goal, hops)
        waypoint = torch.where(at_goal[:, None], goal.to(self.latents.dtype), self.latents[node])
        return waypoint, length

    @torch.no_grad()
    def waypoint_nodes(self, start: torch.Tensor, goal: torch.Tensor, hops: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the waypoint landmark ``(B,)``, whether the goal replaces it ``(B,)``, and the path length ``(B,)``.

        The waypoint is the landmark ``hops`` hops along the shortest path from the start ``(B, D)``
        through the graph to the goal ``(B, D)``, counting the first landmark as one hop. When the
        path reaches its last landmark sooner, or when no path exists, the goal replaces it.
        """
        start_nodes, start_costs = self._attach(start, outgoing=True)  # (B, C) each
        goal_nodes, goal_costs = self._attach(goal, outgoing=False)  # (B, C) each

        # total[b, a, c]: start -> landmark a -> ... -> landmark c -> goal.
        between = self.path_lengths[start_nodes[:, :, None], goal_nodes[:, None, :]]  # (B, C, C)
        total = start_costs[:, :, None] + between + goal_costs[:, None, :]
        best = total.flatten(1).argmin(dim=1)  # (B,)
        rows = torch.arange(len(best), device=best.device)
        candidates = start_nodes.shape[1]
        first = start_nodes[rows, best // candidates]
        last = goal_nodes[rows, best % candidates]
        length = total.flatten(1)[rows, best]

        node = first
        for _ in range(hops - 1):
            node = torch.where(node == last, node, self.next_hop[node, last])

        at_goal = (node == last) | ~torch.isfinite(length)
        return node, at_goal, length

    def path_length(self, start: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Return the length ``(B,)`` of the shortest path from each start ``(B, D)`` through the graph to its goal ``(B, D)``."""
        return self.waypoints(start, goal, hops=1)[1]

    def _attach(self, points: torch.Tensor, outgoing: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the landmarks ``(B, C)`` nearest to ``points (B, D)`` and the distance from (or to) each of them."""
        points = points.to(self.latents.dtype)
        euclidean = torch.cdist(points, self.latents)  # (B, N)
        nodes = euclidean.topk(self.num_neighbors, dim=1, largest=False).indices  # (B, C)
        neighbors = self.latents[nodes]  # (B, C, D)
        expanded = points[:, None, :].expand_as(neighbors)
        costs = self.distance(expanded, neighbors) if outgoing else self.distance(neighbors, expanded)
        return nodes, costs.to(self.latents.dtype)


def pairwise_distances(latents: torch.Tensor, distance: Distance) -> torch.Tensor:
    """Return ``distance(latents[i], latents[j])`` for every pair: ``(N, N)``, computed in chunks of rows."""
    count = latents.shape[0]
    rows = []
    for start in range(0, count, PAIRWISE_CHUNK):
        chunk = latents[start : start + PAIRWISE_CHUNK]  # (c, D)
        sources = chunk[:, None, :].expand(-1, count, -1)
        targets = latents[None, :, :].expand(chunk.shape[0], -1, -1)
        rows.append(distance(sources, targets).to(latents.dtype))
    return torch.cat(rows)


def mutual_neighbor_edges(pairwise: torch.Tensor, num_neighbors: int) -> torch.Tensor:
    """Return the edge weights ``(N, N)`` of the mutual nearest-neighbour graph of ``pairwise (N, N)`` distances.

    An edge's weight is the larger of its two directed distances, and two landmarks are linked
    when each is among the other's ``num_neighbors`` nearest by that weight. A learned distance
    that underestimates one direction through a wall would otherwise add a shortcut, and one
    shortcut is enough to break every shortest path that can use it. The edges of a minimum
    spanning tree are added, so that every landmark is linked to every other through the
    shortest bridges between groups. Missing edges are infinite and the diagonal is 0.
    """
    symmetric = torch.maximum(pairwise, pairwise.T)
    symmetric.fill_diagonal_(torch.inf)
    index = symmetric.topk(num_neighbors, dim=1, largest=False).indices
    nearest = torch.zeros_like(symmetric, dtype=torch.bool)
    nearest.scatter_(1, index, True)
    linked = (nearest & nearest.T) | minimum_spanning_tree(symmetric)
    edges = torch.where(linked, symmetric, torch.full_like(symmetric, torch.inf))
    edges.fill_diagonal_(0.0)
    return edges


def minimum_spanning_tree(weights: torch.Tensor) -> torch.Tensor:
    """Return the edges ``(N, N)``, a symmetric bool mask, of a minimum spanning tree of symmetric ``weights (N, N)``.

    Prim's algorithm with dense rows: ``N - 1`` steps of ``O(N)`` work each.
    """
    count = weights.shape[0]
    device = weights.device
    in_tree = torch.zeros(count, dtype=torch.bool, device=device)
    in_tree[0] = True
    nearest = weights[0].clone()  # distance of each landmark to the tree
    parent = torch.zeros(count, dtype=torch.long, device=device)
    tree = torch.zeros(count, count, dtype=torch.bool, device=device)
    for _ in range(count - 1):
        node = int(torch.where(in_tree, torch.inf, nearest).argmin())
        tree[node, parent[node]] = tree[parent[node], node] = True
        in_tree[node] = True
        closer = weights[node] < nearest
        nearest = torch.where(closer, weights[node], nearest)
        parent = torch.where(closer, torch.full_like(parent, node), parent)
    return tree


def all_shortest_paths(edge_weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the shortest path lengths ``(N, N)`` and next hops ``(N, N)`` of a graph with ``edge_weights (N, N)``.

    Floyd-Warshall, vectorized over the pairs of each intermediate landmark: ``N`` steps of
    ``O(N^2)`` work each. Missing edges are infinite and weights must be non-negative.
    """
    count = edge_weights.shape[0]
    lengths = edge_weights.clone()
    next_hop = torch.arange(count, device=edge_weights.device).expand(count, count).clone()
    for middle in range(count):
        through = lengths[:, middle : middle + 1] + lengths[middle : middle + 1, :]
        shorter = through < lengths
        lengths = torch.where(shorter, through, lengths)
        next_hop = torch.where(shorter, next_hop[:, middle : middle + 1].expand(count, count), next_hop)
    return lengths, next_hop


def farthest_point_sample(points: torch.Tensor, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return the indices ``(count,)`` of points ``(M, D)`` chosen one by one, each farthest from those chosen before.

    The first point is drawn at random. The chosen points cover the latent space evenly, so rare
    states, like the far ends of a maze, get landmarks as well as frequent ones.
    """
    total = points.shape[0]
    count = min(count, total)
    first = torch.randint(total, (1,), generator=generator).item()
    chosen = [first]
    nearest = torch.cdist(points, points[first : first + 1]).squeeze(1)  # (M,)
    for _ in range(count - 1):
        index = int(nearest.argmax())
        chosen.append(index)
        nearest = torch.minimum(nearest, torch.cdist(points, points[index : index + 1]).squeeze(1))
    return torch.tensor(chosen, device=points.device)


@torch.no_grad()
def place_latents(
    world_model: HJEPAWorldModel, goal_setter: GoalSetter | None, obs: torch.Tensor, fill: torch.Tensor | None
) -> torch.Tensor:
    """Encode the places of ``obs (B, obs_dim)`` (``GoalSetter.place`` with ``fill``) and abstract them to level 1: ``(B, D1)``.

    Without a goal (``fill`` None or a goal setter without goal entries) the observation is encoded as it is.
    """
    if goal_setter is not None and goal_setter.enabled and fill is not None:
        obs = goal_setter.place(obs, fill)
    return world_model.level(1).abstract(world_model.encode(obs))


@torch.no_grad()
def landmarks_from_replay(
    world_model: HJEPAWorldModel,
    replay: TrajectoryReplay,
    distance: Distance,
    count: int,
    num_neighbors: int,
    goal_setter: GoalSetter | None = None,
    pool: int = LANDMARK_POOL,
    seed: int = 0,
) -> LandmarkGraph:
    """Build a graph of ``count`` level-1 latents of stored observations, chosen by farthest point sampling.

    Up to ``pool`` stored observations are encoded with the online encoder and abstracted to
    level 1, and the landmarks are spread over them. With a ``goal_setter`` that has goal
    entries, every observation is first replaced by its place: its goal entries set to their
    mean over the pool and its ``zero_indices`` (the velocities) set to 0.
    """
    start = time.perf_counter()
    rows = replay.stored_rows()
    if len(rows) < 2:
        raise ValueError(f"the replay buffer stores {len(rows)} observation(s), and a landmark graph needs at least 2; collect steps first")
    generator = torch.Generator().manual_seed(seed)
    drawn = rows[torch.randperm(len(rows), generator=generator)[:pool]].to(replay.obs.device)
    obs = replay.obs[drawn]
    fill = obs[:, goal_setter.goal_indices].mean(dim=0) if goal_setter is not None and goal_setter.enabled else None
    if fill is not None:
        obs = goal_setter.place(obs, fill)
    latents = world_model.level(1).abstract(world_model.encode(obs))  # (pool, D1), places
    chosen = farthest_point_sample(latents, count, generator)
    graph = LandmarkGraph(latents[chosen], distance, num_neighbors, obs[chosen], fill)
    logger.info(
        "landmark graph: %d landmarks from %d stored observations, %d neighbours each, built in %.1f s",
        len(graph), len(drawn), graph.num_neighbors, time.perf_counter() - start,
    )
    return graph

"""Landmark graph: shortest paths around a wall, waypoints along them, and landmarks spread over the replay."""

from __future__ import annotations

import pytest
import torch

from ami.actor.landmarks import LandmarkGraph, all_shortest_paths, farthest_point_sample, minimum_spanning_tree, mutual_neighbor_edges


def euclidean(latent: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
    return (latent - goal).norm(dim=-1)


def u_corridor(spacing: float = 0.1) -> torch.Tensor:
    """Points ``(N, 2)`` of a U: along y = 0 from x = 0 to 3, up x = 3 to y = 2, and back along y = 2 to x = 0."""
    along = torch.arange(0.0, 3.0 + 1e-6, spacing)
    up = torch.arange(spacing, 2.0, spacing)
    bottom = torch.stack([along, torch.zeros_like(along)], dim=1)
    side = torch.stack([torch.full_like(up, 3.0), up], dim=1)
    top = torch.stack([along.flip(0), torch.full_like(along, 2.0)], dim=1)
    return torch.cat([bottom, side, top])


def test_shortest_paths_line_graph():
    inf = torch.inf
    edges = torch.tensor([[0.0, 1.0, inf], [inf, 0.0, 2.0], [inf, inf, 0.0]])

    lengths, next_hop = all_shortest_paths(edges)

    assert lengths[0, 2].item() == 3.0
    assert next_hop[0, 2].item() == 1
    assert next_hop[1, 2].item() == 2
    assert lengths[2, 0].item() == inf


def test_mutual_edges_symmetric_max():
    # 0 -> 1 is short one way and long the other, so the edge weighs the longer direction.
    pairwise = torch.tensor([[0.0, 1.0, 5.0], [3.0, 0.0, 2.0], [5.0, 2.0, 0.0]])

    edges = mutual_neighbor_edges(pairwise, 2)

    assert edges[0, 1].item() == 3.0
    assert edges[1, 0].item() == 3.0
    assert edges[1, 2].item() == 2.0
    assert edges.diagonal().tolist() == [0.0, 0.0, 0.0]


def test_mutual_edges_drop_one_sided():
    # 3 is an outlier: its two nearest are 2 and 0, but those have nearer neighbours, so no
    # mutual edge reaches 3. The spanning tree then links it by its shortest bridge, to 2.
    pairwise = torch.tensor([[0.0, 1.0, 1.0, 8.0], [1.0, 0.0, 1.0, 9.0], [1.0, 1.0, 0.0, 4.0], [8.0, 9.0, 4.0, 0.0]])

    edges = mutual_neighbor_edges(pairwise, 2)

    assert edges[0, 1].item() == 1.0
    assert edges[3, 0].item() == torch.inf
    assert edges[3, 2].item() == 4.0
    assert edges[2, 3].item() == 4.0


def test_spanning_tree_links_two_groups():
    # Two pairs 10 apart, with one bridge of 7 between them: the tree keeps both pairs and that bridge.
    inf = torch.inf
    weights = torch.tensor([[inf, 1.0, 7.0, 12.0], [1.0, inf, 11.0, 10.0], [7.0, 11.0, inf, 1.0], [12.0, 10.0, 1.0, inf]])

    tree = minimum_spanning_tree(weights)

    assert tree.sum().item() == 6  # 3 edges, both directions
    assert tree[0, 1]
    assert tree[2, 3]
    assert tree[0, 2]
    assert torch.equal(tree, tree.T)


def test_graph_path_goes_around_the_wall():
    points = u_corridor()
    graph = LandmarkGraph(points, euclidean, num_neighbors=4)
    start, goal = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 2.0]])

    _, length = graph.waypoints(start, goal, hops=3)

    # Around the U: 3 m along the bottom, 2 m up and 3 m back, less two corners that a diagonal
    # edge of sqrt(2) * 0.1 m cuts short of 0.2 m. The straight line is 2 m.
    corner_cut = 2 * (0.2 - 2**0.5 * 0.1)
    assert length.item() == pytest.approx(8.0 - corner_cut, abs=1e-4)


def test_waypoint_follows_the_corridor():
    graph = LandmarkGraph(u_corridor(), euclidean, num_neighbors=4)
    start, goal = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 2.0]])

    waypoint, _ = graph.waypoints(start, goal, hops=5)

    # The start is the first landmark, then four hops of 0.1 or 0.2 m along the bottom corridor,
    # away from the goal in a straight line.
    assert waypoint[0, 1].item() == pytest.approx(0.0)
    assert 0.4 - 1e-5 <= waypoint[0, 0].item() <= 0.8 + 1e-5


def test_waypoint_is_goal_near_the_end():
    graph = LandmarkGraph(u_corridor(), euclidean, num_neighbors=4)
    start, goal = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.95, 2.0]])

    waypoint, length = graph.waypoints(start, goal, hops=5)

    assert torch.equal(waypoint, goal)
    assert length.item() == pytest.approx(0.05, abs=1e-4)


def test_waypoints_batch_rows_independent():
    graph = LandmarkGraph(u_corridor(), euclidean, num_neighbors=4)
    start = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    goal = torch.tensor([[0.0, 2.0], [0.0, 0.0]])

    waypoint, length = graph.waypoints(start, goal, hops=5)

    assert waypoint[0, 1].item() == pytest.approx(0.0)
    assert waypoint[1, 1].item() == pytest.approx(2.0)
    assert waypoint[0, 0].item() >= 0.4 - 1e-5
    assert waypoint[1, 0].item() >= 0.4 - 1e-5
    assert length[0].item() == pytest.approx(length[1].item(), abs=1e-4)


def test_waypoint_without_path_is_goal():
    # Two islands 10 m apart, and a distance that deems anything beyond 1 m unreachable.
    points = torch.tensor([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [10.1, 0.0]])

    def local(latent, goal):
        distance = euclidean(latent, goal)
        return torch.where(distance < 1.0, distance, torch.inf)

    graph = LandmarkGraph(points, local, num_neighbors=1)
    goal = torch.tensor([[10.1, 0.0]])

    waypoint, length = graph.waypoints(torch.tensor([[0.0, 0.0]]), goal, hops=2)

    assert torch.equal(waypoint, goal)
    assert length.item() == torch.inf


def test_graph_rejects_single_landmark():
    with pytest.raises(ValueError, match=r"N >= 2"):
        LandmarkGraph(torch.zeros(1, 2), euclidean, num_neighbors=4)


def test_farthest_point_sample_covers_clusters():
    # 1000 points near the origin and 3 far corners: the corners are chosen before a second origin point.
    generator = torch.Generator().manual_seed(0)
    crowd = 0.01 * torch.randn(1000, 2, generator=generator)
    corners = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [5.0, -5.0]])
    points = torch.cat([crowd, corners])

    chosen = farthest_point_sample(points, 4, generator)

    assert set(range(1000, 1003)) <= set(chosen.tolist())
    assert len(set(chosen.tolist())) == 4

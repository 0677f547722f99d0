// Cluster registry and leader lease (issue 6): being written.

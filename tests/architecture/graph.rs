//! Strongly connected components of the file import graph (Tarjan's algorithm).

use crate::imports::Edge;

/// Every set of two or more files that reach each other through imports, each sorted, in a
/// stable order.
pub fn cycles(nodes: usize, edges: &[Edge]) -> Vec<Vec<usize>> {
    let mut adjacent = vec![Vec::new(); nodes];
    for edge in edges {
        adjacent[edge.from].push(edge.to);
    }
    let mut tarjan = Tarjan {
        adjacent,
        index: vec![None; nodes],
        low: vec![0; nodes],
        on_stack: vec![false; nodes],
        stack: Vec::new(),
        next: 0,
        components: Vec::new(),
    };
    for node in 0..nodes {
        if tarjan.index[node].is_none() {
            tarjan.visit(node);
        }
    }
    let mut components: Vec<_> = tarjan.components.into_iter().filter(|c| c.len() > 1).collect();
    for component in &mut components {
        component.sort_unstable();
    }
    components.sort();
    components
}

struct Tarjan {
    adjacent: Vec<Vec<usize>>,
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
    components: Vec<Vec<usize>>,
}

impl Tarjan {
    // Recursion depth is bounded by a crate's file count, a few dozen.
    fn visit(&mut self, node: usize) {
        self.index[node] = Some(self.next);
        self.low[node] = self.next;
        self.next += 1;
        self.stack.push(node);
        self.on_stack[node] = true;
        for i in 0..self.adjacent[node].len() {
            let next = self.adjacent[node][i];
            match self.index[next] {
                None => {
                    self.visit(next);
                    self.low[node] = self.low[node].min(self.low[next]);
                }
                Some(index) if self.on_stack[next] => self.low[node] = self.low[node].min(index),
                Some(_) => {}
            }
        }
        if Some(self.low[node]) == self.index[node] {
            let mut component = Vec::new();
            loop {
                let member = self.stack.pop().expect("the node itself is on the stack");
                self.on_stack[member] = false;
                component.push(member);
                if member == node {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

mod tests {
    use super::cycles;
    use crate::imports::Edge;

    fn edge(from: usize, to: usize) -> Edge {
        Edge {
            from,
            to,
            line: 0,
            path: String::new(),
            more: 0,
        }
    }

    #[test]
    fn finds_loops_and_pairs_but_not_chains() {
        let edges = [
            edge(0, 1),
            edge(1, 2),
            edge(2, 0),
            edge(3, 4),
            edge(4, 3),
            edge(5, 6),
            edge(2, 5),
        ];
        assert_eq!(cycles(7, &edges), vec![vec![0, 1, 2], vec![3, 4]]);
        assert!(cycles(3, &[edge(0, 1), edge(1, 2)]).is_empty());
    }
}

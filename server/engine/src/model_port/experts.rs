//! How a mixture of experts (qwen3moe) picks its experts, shared by both
//! backends so they route every token alike: each token keeps the `used`
//! most probable experts, their weights renormalized over them.

/// Each token's chosen experts and their weights, from the router's
/// probabilities (`count` per token, already softmaxed).
pub fn route(probs: &[f32], count: usize, used: usize) -> Vec<Vec<(usize, f32)>> {
    probs
        .chunks_exact(count)
        .map(|p| {
            let mut order: Vec<usize> = (0..count).collect();
            // Highest first; on a tie the lower expert, as a stable sort gives.
            order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
            order.truncate(used);
            let total: f32 = order.iter().map(|&e| p[e]).sum();
            order.into_iter().map(|e| (e, p[e] / total)).collect()
        })
        .collect()
}

/// For each expert, the tokens that chose it and their weights (experts
/// no token chose are left empty).
pub fn tokens_by_expert(routes: &[Vec<(usize, f32)>], count: usize) -> Vec<Vec<(usize, f32)>> {
    let mut by_expert = vec![Vec::new(); count];
    for (token, chosen) in routes.iter().enumerate() {
        for &(e, w) in chosen {
            if let Some(list) = by_expert.get_mut(e) {
                list.push((token, w));
            }
        }
    }
    by_expert
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keeps_the_top_experts_with_renormalized_weights() {
        let probs = vec![0.1, 0.35, 0.2, 0.35, /* token 2 */ 0.7, 0.1, 0.1, 0.1];
        let r = route(&probs, 4, 2);
        assert_eq!(r[0].iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 3]);
        assert!((r[0][0].1 - 0.5).abs() < 1e-6 && (r[0][1].1 - 0.5).abs() < 1e-6);
        assert_eq!(r[1][0].0, 0);
        assert!((r[1].iter().map(|x| x.1).sum::<f32>() - 1.0).abs() < 1e-6);
        let by = tokens_by_expert(&r, 4);
        assert_eq!(by[0].iter().map(|x| x.0).collect::<Vec<_>>(), vec![1]);
        // Token 1 breaks its tie for second place with the lower expert.
        assert_eq!(by[1].iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(by[3].iter().map(|x| x.0).collect::<Vec<_>>(), vec![0]);
    }
}

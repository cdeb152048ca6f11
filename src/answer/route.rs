//! Routing: which endpoints answer a dynamic record, given endpoint health. Pure: health and
//! time come in as arguments, so every rule here is unit-tested without sockets or clocks.

use std::time::Duration;

use crate::model::{AllDown, Dynamic, Endpoint, Family, Policy, Pool, Select, Target};

/// What a dynamic record answers for one family (A, AAAA or CNAME).
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub served: Served,
    /// The failover pool answering now (for failback memory, metrics and logs); `None` for
    /// weighted splits and all-down modes.
    pub pool: Option<usize>,
    /// Pools contributing endpoints to the answer.
    pub answering: Vec<usize>,
    /// Served from a fallback pool, with endpoints missing, or in an all-down mode.
    pub degraded: bool,
    pub all_down: bool,
    /// A failback is being held back; routing should be evaluated again after this long.
    pub recheck_after: Option<Duration>,
}

impl Route {
    /// A route known only by the failover pool that answered it (restored after a restart):
    /// enough to hold a failback.
    pub fn remembered(pool: usize) -> Route {
        Route {
            served: Served::NoData,
            pool: Some(pool),
            answering: vec![pool],
            degraded: false,
            all_down: false,
            recheck_after: None,
        }
    }

    /// Whether the record answers this family at all (some pool has members of it).
    pub fn has_family(&self) -> bool {
        !self.answering.is_empty() || self.all_down
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Served {
    /// Weighted alternatives (probabilities summing to 1), each a set of targets.
    Variants(Vec<(f64, Vec<Target>)>),
    NoData,
    ServFail,
}

/// Health as routing and compiling see it (zones and pools by index in the model).
pub trait Health {
    /// Whether routing should use the endpoint: up, and not suppressed for flapping.
    fn endpoint_up(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> bool;
    /// Whether its probes pass (flap damping aside): used only when nothing is up.
    fn endpoint_passing(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> bool {
        self.endpoint_up(zone, pool, endpoint)
    }
    /// How long `pool` has been continuously up for `family`; `None` when it is down.
    fn pool_up_for(&self, zone: usize, pool: usize, family: Family) -> Option<Duration>;
}

/// The endpoints of `pool` that can serve `family`: right kind, not drained (weight 0).
pub fn members(pool: &Pool, family: Family) -> impl Iterator<Item = &Endpoint> {
    pool.endpoints.iter().filter(move |e| e.weight > 0 && Family::of(&e.target) == family)
}

/// A pool is up for a family when at least `min_healthy` (at most all) of its members are up.
pub fn pool_up(pool: &Pool, family: Family, health: &impl Fn(&Endpoint) -> bool) -> bool {
    let total = members(pool, family).count();
    let healthy = members(pool, family).filter(|e| health(e)).count();
    total > 0 && healthy >= pool.min_healthy.min(total)
}

/// The first pool of a failover record that has members of `family` (its primary for that
/// family); `None` for weighted records.
pub fn primary_pool(dynamic: &Dynamic, pools: &[Pool], family: Family) -> Option<usize> {
    match &dynamic.policy {
        Policy::Failover(order) => order.iter().copied().find(|&p| members(&pools[p], family).next().is_some()),
        Policy::Weighted(_) => None,
    }
}

/// Routes with the endpoints that are `up`; when that leaves every pool down, with those
/// whose probes pass: flap damping may move traffic to other healthy endpoints or pools,
/// never to dead ones.
pub fn route(
    dynamic: &Dynamic,
    pools: &[Pool],
    family: Family,
    (zone, health): (usize, &impl Health),
    previous: Option<usize>,
) -> Route {
    let up_for = |p| health.pool_up_for(zone, p, family);
    let preferred = route_by(dynamic, pools, family, &|p, e| health.endpoint_up(zone, p, e), &up_for, previous);
    if !preferred.all_down {
        return preferred;
    }
    let passing = |p, e: &Endpoint| health.endpoint_passing(zone, p, e);
    let passing = route_by(dynamic, pools, family, &passing, &up_for, previous);
    match passing.all_down {
        true => preferred,
        false => Route { degraded: true, ..passing },
    }
}

fn route_by(
    dynamic: &Dynamic,
    pools: &[Pool],
    family: Family,
    up: &dyn Fn(usize, &Endpoint) -> bool,
    pool_up_for: &dyn Fn(usize) -> Option<Duration>,
    previous: Option<usize>,
) -> Route {
    let relevant: Vec<usize> =
        dynamic.policy.pools().into_iter().filter(|&p| members(&pools[p], family).next().is_some()).collect();
    let mut route = Route {
        served: Served::NoData,
        pool: None,
        answering: Vec::new(),
        degraded: false,
        all_down: false,
        recheck_after: None,
    };
    if relevant.is_empty() {
        return route;
    }
    let is_up = |p: usize| pool_up(&pools[p], family, &|e| up(p, e));
    let healthy = |p: usize| members(&pools[p], family).filter(|e| up(p, e)).collect::<Vec<_>>();
    let missing = |p: usize| healthy(p).len() < members(&pools[p], family).count();
    match &dynamic.policy {
        Policy::Failover(_) => {
            if let Some(first_up) = relevant.iter().copied().find(|&p| is_up(p)) {
                let mut chosen = first_up;
                if let Some(prev) = previous.filter(|&prev| relevant.contains(&prev) && is_up(prev)) {
                    let rank = |p| relevant.iter().position(|&q| q == p);
                    let up_for = pool_up_for(first_up).unwrap_or_default();
                    if rank(first_up) < rank(prev) && up_for < dynamic.failback_after {
                        chosen = prev;
                        route.recheck_after = Some(dynamic.failback_after - up_for);
                    }
                }
                route.served = Served::Variants(select(&healthy(chosen), dynamic, family));
                route.pool = Some(chosen);
                route.answering = vec![chosen];
                route.degraded = chosen != relevant[0] || missing(chosen);
                return route;
            }
        }
        Policy::Weighted(weights) => {
            let up_pools: Vec<(usize, f64)> = weights
                .iter()
                .filter(|&&(p, w)| w > 0 && relevant.contains(&p) && is_up(p))
                .map(|&(p, w)| (p, w as f64))
                .collect();
            let total: f64 = up_pools.iter().map(|&(_, w)| w).sum();
            if total > 0.0 {
                let mut variants = Vec::new();
                for &(p, w) in &up_pools {
                    let share = w / total;
                    variants.extend(select(&healthy(p), dynamic, family).into_iter().map(|(q, t)| (q * share, t)));
                }
                route.served = Served::Variants(variants);
                route.answering = up_pools.iter().map(|&(p, _)| p).collect();
                route.degraded = relevant.iter().any(|&p| !is_up(p) || missing(p));
                return route;
            }
        }
    }
    route.all_down = true;
    route.degraded = true;
    route.served = match dynamic.when_all_down {
        AllDown::Nodata => Served::NoData,
        AllDown::Servfail => Served::ServFail,
        AllDown::First => {
            route.answering = vec![relevant[0]];
            Served::Variants(select(&members(&pools[relevant[0]], family).collect::<Vec<_>>(), dynamic, family))
        }
        AllDown::All => {
            route.answering = relevant.clone();
            let everyone: Vec<&Endpoint> = relevant.iter().flat_map(|&p| members(&pools[p], family)).collect();
            Served::Variants(select(&everyone, dynamic, family))
        }
    };
    route
}

/// Most alternatives a weighted selection is spelled out into; beyond this it is sampled.
const MAX_VARIANTS: usize = 4096;
const SAMPLES: usize = 1024;

/// Applies the record's `select` rule to the endpoints that may answer. A CNAME answer holds
/// one target, so a cname pool always yields single-target alternatives.
fn select(candidates: &[&Endpoint], dynamic: &Dynamic, family: Family) -> Vec<(f64, Vec<Target>)> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let (select, answers) = match (dynamic.select, family) {
        (Select::All, Family::Cname) => (Select::Weighted, 1),
        (select, Family::Cname) => (select, 1),
        (select, _) => (select, dynamic.answers),
    };
    match select {
        Select::First => vec![(1.0, vec![candidates[0].target.clone()])],
        Select::All => vec![(1.0, candidates.iter().map(|e| e.target.clone()).collect())],
        Select::Weighted if answers >= candidates.len() => {
            vec![(1.0, candidates.iter().map(|e| e.target.clone()).collect())]
        }
        Select::Weighted => weighted_subsets(candidates, answers),
    }
}

/// Every ordered choice of `k` distinct endpoints by weighted random draw without
/// replacement, with its exact probability (sampled when there are too many).
fn weighted_subsets(candidates: &[&Endpoint], k: usize) -> Vec<(f64, Vec<Target>)> {
    let weights: Vec<f64> = candidates.iter().map(|e| e.weight as f64).collect();
    let count: f64 = (0..k).map(|i| (candidates.len() - i) as f64).product();
    let mut out = Vec::new();
    if count <= MAX_VARIANTS as f64 {
        let mut chosen = Vec::with_capacity(k);
        enumerate(&weights, k, 1.0, &mut chosen, &mut out);
    } else {
        let mut rng = fastrand::Rng::with_seed(0x5317_c4a2);
        for _ in 0..SAMPLES {
            let mut chosen: Vec<usize> = Vec::with_capacity(k);
            while chosen.len() < k {
                let remaining: f64 =
                    weights.iter().enumerate().filter(|(i, _)| !chosen.contains(i)).map(|(_, w)| w).sum();
                let mut draw = rng.f64() * remaining;
                let pick = (0..weights.len())
                    .filter(|i| !chosen.contains(i))
                    .find(|&i| {
                        draw -= weights[i];
                        draw < 0.0
                    })
                    .unwrap_or_else(|| (0..weights.len()).rfind(|i| !chosen.contains(i)).expect("k < n"));
                chosen.push(pick);
            }
            out.push((1.0 / SAMPLES as f64, chosen));
        }
    }
    out.into_iter().map(|(p, idx)| (p, idx.into_iter().map(|i| candidates[i].target.clone()).collect())).collect()
}

fn enumerate(weights: &[f64], k: usize, p: f64, chosen: &mut Vec<usize>, out: &mut Vec<(f64, Vec<usize>)>) {
    if chosen.len() == k {
        out.push((p, chosen.clone()));
        return;
    }
    let remaining: f64 = weights.iter().enumerate().filter(|(i, _)| !chosen.contains(i)).map(|(_, w)| w).sum();
    for i in 0..weights.len() {
        if chosen.contains(&i) || weights[i] == 0.0 {
            continue;
        }
        chosen.push(i);
        enumerate(weights, k, p * weights[i] / remaining, chosen, out);
        chosen.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::net::IpAddr;

    fn endpoint(ip: &str, weight: u32, probe: usize) -> Endpoint {
        Endpoint { target: Target::Address(ip.parse().unwrap()), weight, checks: crate::model::Checks::single(probe) }
    }

    fn pools() -> Vec<Pool> {
        vec![
            Pool {
                name: "primary".into(),
                min_healthy: 1,
                endpoints: vec![
                    endpoint("192.0.2.11", 3, 0),
                    endpoint("192.0.2.12", 1, 1),
                    endpoint("2001:db8::11", 1, 4),
                ],
            },
            Pool { name: "dr".into(), min_healthy: 1, endpoints: vec![endpoint("192.0.2.21", 1, 2)] },
        ]
    }

    fn dynamic(policy: Policy, select: Select) -> Dynamic {
        Dynamic {
            ttl: 30,
            ttl_degraded: 15,
            policy,
            select,
            answers: 1,
            when_all_down: AllDown::First,
            failback_after: Duration::ZERO,
            rto: None,
            transfer: true,
        }
    }

    struct Fixed {
        down: HashSet<usize>,
        up_for: Duration,
    }

    impl Health for Fixed {
        fn endpoint_up(&self, _: usize, _: usize, e: &Endpoint) -> bool {
            !self.down.contains(&e.checks.probes[0])
        }
        fn pool_up_for(&self, _: usize, _: usize, _: Family) -> Option<Duration> {
            Some(self.up_for)
        }
    }

    fn health(down: &[usize]) -> Fixed {
        Fixed { down: down.iter().copied().collect(), up_for: Duration::from_secs(3600) }
    }

    fn ips(served: &Served) -> Vec<(f64, Vec<IpAddr>)> {
        let Served::Variants(v) = served else { panic!("{served:?}") };
        v.iter()
            .map(|(p, t)| {
                (
                    *p,
                    t.iter()
                        .map(|t| match t {
                            Target::Address(ip) => *ip,
                            _ => panic!(),
                        })
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn failover_moves_to_dr_when_primary_is_down_and_cuts_nothing_else() {
        let d = dynamic(Policy::Failover(vec![0, 1]), Select::All);
        let r = route(&d, &pools(), Family::V4, (0, &health(&[])), None);
        assert_eq!(r.pool, Some(0));
        assert!(!r.degraded);
        assert_eq!(ips(&r.served)[0].1.len(), 2);
        let r = route(&d, &pools(), Family::V4, (0, &health(&[0, 1])), None);
        assert_eq!((r.pool, r.degraded), (Some(1), true));
        // AAAA still comes from the primary's v6 member.
        let r = route(&d, &pools(), Family::V6, (0, &health(&[0, 1])), None);
        assert_eq!(r.pool, Some(0));
    }

    #[test]
    fn weighted_probabilities_follow_weights_and_skip_drained() {
        let mut p = pools();
        let d = dynamic(Policy::Failover(vec![0, 1]), Select::Weighted);
        let r = route(&d, &p, Family::V4, (0, &health(&[])), None);
        let v = ips(&r.served);
        assert_eq!(v.len(), 2);
        assert!((v[0].0 - 0.75).abs() < 1e-9 && (v[1].0 - 0.25).abs() < 1e-9);
        p[0].endpoints[0].weight = 0;
        let v = ips(&route(&d, &p, Family::V4, (0, &health(&[])), None).served);
        assert_eq!(v, vec![(1.0, vec!["192.0.2.12".parse::<IpAddr>().unwrap()])]);
    }

    #[test]
    fn weighted_pairs_have_exact_probabilities() {
        let eps = [endpoint("192.0.2.1", 2, 0), endpoint("192.0.2.2", 1, 1), endpoint("192.0.2.3", 1, 2)];
        let refs: Vec<&Endpoint> = eps.iter().collect();
        let v = weighted_subsets(&refs, 2);
        assert_eq!(v.len(), 6);
        assert!((v.iter().map(|(p, _)| p).sum::<f64>() - 1.0).abs() < 1e-9);
        // P(first = .1) = 1/2, then .2 with 1/2 -> 1/4.
        assert!((v[0].0 - 0.25).abs() < 1e-9);
    }

    #[test]
    fn cross_pool_weights_use_healthy_pools_only() {
        let d = dynamic(Policy::Weighted(vec![(0, 90), (1, 10)]), Select::First);
        let v = ips(&route(&d, &pools(), Family::V4, (0, &health(&[])), None).served);
        assert_eq!(v.iter().map(|(p, _)| (p * 100.0).round() as u32).collect::<Vec<_>>(), vec![90, 10]);
        let r = route(&d, &pools(), Family::V4, (0, &health(&[2])), None);
        assert!(r.degraded);
        assert_eq!(ips(&r.served), vec![(1.0, vec!["192.0.2.11".parse::<IpAddr>().unwrap()])]);
    }

    #[test]
    fn min_healthy_and_all_down_modes() {
        let mut p = pools();
        p[0].min_healthy = 2;
        let mut d = dynamic(Policy::Failover(vec![0, 1]), Select::All);
        assert_eq!(route(&d, &p, Family::V4, (0, &health(&[1])), None).pool, Some(1));
        let everything = health(&[0, 1, 2]);
        let r = route(&d, &p, Family::V4, (0, &everything), None);
        assert!(r.all_down && r.degraded);
        assert_eq!(ips(&r.served)[0].1.len(), 2, "first: the first pool as if healthy");
        d.when_all_down = AllDown::All;
        assert_eq!(ips(&route(&d, &p, Family::V4, (0, &everything), None).served)[0].1.len(), 3);
        d.when_all_down = AllDown::Nodata;
        assert_eq!(route(&d, &p, Family::V4, (0, &everything), None).served, Served::NoData);
        d.when_all_down = AllDown::Servfail;
        assert_eq!(route(&d, &p, Family::V4, (0, &everything), None).served, Served::ServFail);
    }

    #[test]
    fn failback_waits_until_the_primary_has_been_up_long_enough() {
        let mut d = dynamic(Policy::Failover(vec![0, 1]), Select::All);
        d.failback_after = Duration::from_secs(30);
        let recovering = Fixed { down: HashSet::new(), up_for: Duration::from_secs(10) };
        let r = route(&d, &pools(), Family::V4, (0, &recovering), Some(1));
        assert_eq!((r.pool, r.recheck_after), (Some(1), Some(Duration::from_secs(20))));
        let settled = Fixed { down: HashSet::new(), up_for: Duration::from_secs(30) };
        assert_eq!(route(&d, &pools(), Family::V4, (0, &settled), Some(1)).pool, Some(0));
        // With no memory (a fresh start) the primary answers at once.
        assert_eq!(route(&d, &pools(), Family::V4, (0, &recovering), None).pool, Some(0));
    }
}

//! Colour: the maps (viridis, grey, a blue–white–red map centred on zero), how values become
//! pixels (NaN and ±Inf in their own marked colours), and the colour bar's tick values.

use egui::Color32;

/// A colour map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColourMap {
    /// Perceptually uniform, dark violet → yellow.
    Viridis,
    /// Black → white.
    Grey,
    /// Blue (negative) → white (zero) → red (positive), symmetric around zero.
    Diverging,
}

/// The user's choice of map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapChoice {
    /// Diverging when the data has negative values, else viridis.
    Auto,
    /// Always this map.
    Fixed(ColourMap),
}

impl ColourMap {
    /// Every map, in menu order.
    pub const ALL: [ColourMap; 3] = [ColourMap::Viridis, ColourMap::Grey, ColourMap::Diverging];

    /// The map's name in menus.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            ColourMap::Viridis => "viridis",
            ColourMap::Grey => "grey",
            ColourMap::Diverging => "diverging (blue − 0 + red)",
        }
    }

    /// The colour at `t` in `[0, 1]` (clamped; not finite reads 0).
    #[must_use]
    pub fn at(self, t: f64) -> Color32 {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        match self {
            ColourMap::Viridis => lerp_stops(&VIRIDIS, t),
            ColourMap::Diverging => lerp_stops(&RDBU, t),
            ColourMap::Grey => {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "in [0, 255]"
                )]
                let g = (t * 255.0).round() as u8;
                Color32::from_rgb(g, g, g)
            }
        }
    }
}

impl MapChoice {
    /// The map to use for data whose smallest finite value is `min`.
    #[must_use]
    pub fn resolve(self, min: f64) -> ColourMap {
        match self {
            MapChoice::Fixed(m) => m,
            MapChoice::Auto if min < 0.0 => ColourMap::Diverging,
            MapChoice::Auto => ColourMap::Viridis,
        }
    }
}

/// NaN: magenta.
pub const NAN_COLOUR: Color32 = Color32::from_rgb(255, 0, 255);
/// +Inf: cyan.
pub const POS_INF_COLOUR: Color32 = Color32::from_rgb(0, 255, 255);
/// −Inf: orange.
pub const NEG_INF_COLOUR: Color32 = Color32::from_rgb(255, 128, 0);

const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

/// ColorBrewer RdBu, reversed (blue for negative).
const RDBU: [[u8; 3]; 11] = [
    [5, 48, 97],
    [33, 102, 172],
    [67, 147, 195],
    [146, 197, 222],
    [209, 229, 240],
    [247, 247, 247],
    [253, 219, 199],
    [244, 165, 130],
    [214, 96, 77],
    [178, 24, 43],
    [103, 0, 31],
];

fn lerp_stops(stops: &[[u8; 3]], t: f64) -> Color32 {
    let x = t * (stops.len() - 1) as f64;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "x is in [0, len - 1]"
    )]
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| -> u8 {
        let v = f64::from(a) + (f64::from(b) - f64::from(a)) * f;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "v is in [0, 255]"
        )]
        let v = v.round().clamp(0.0, 255.0) as u8;
        v
    };
    let (a, b) = (stops[i], stops[i + 1]);
    Color32::from_rgb(lerp(a[0], b[0]), lerp(a[1], b[1]), lerp(a[2], b[2]))
}

/// A resolved colour scale: the map and the value range it spans. A diverging scale is
/// symmetric around zero (`lo = −hi`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    /// The map.
    pub map: ColourMap,
    /// The value drawn at the bottom of the map.
    pub lo: f64,
    /// The value drawn at the top of the map.
    pub hi: f64,
}

impl Scale {
    /// The scale for a value range `(lo, hi)`; a diverging map widens it to `[−m, m]`.
    #[must_use]
    pub fn new(map: ColourMap, lo: f64, hi: f64) -> Self {
        let (lo, hi) = if lo.is_finite() && hi.is_finite() {
            (lo.min(hi), lo.max(hi))
        } else {
            (0.0, 1.0)
        };
        match map {
            ColourMap::Diverging => {
                let m = lo.abs().max(hi.abs());
                let m = if m > 0.0 { m } else { 1.0 };
                Self { map, lo: -m, hi: m }
            }
            _ => Self { map, lo, hi },
        }
    }

    /// The pixel for `v`.
    #[must_use]
    pub fn pixel(&self, v: f64) -> Color32 {
        if v.is_nan() {
            NAN_COLOUR
        } else if v == f64::INFINITY {
            POS_INF_COLOUR
        } else if v == f64::NEG_INFINITY {
            NEG_INF_COLOUR
        } else if self.hi > self.lo {
            self.map.at((v - self.lo) / (self.hi - self.lo))
        } else {
            self.map.at(0.5)
        }
    }

    /// Pixels for `values`.
    #[must_use]
    pub fn pixels(&self, values: &[f32]) -> Vec<Color32> {
        values.iter().map(|&v| self.pixel(f64::from(v))).collect()
    }
}

/// Up to about `max_ticks` round tick values (steps of 1, 2 or 5 × 10ⁿ) inside `[lo, hi]`.
#[must_use]
pub fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || max_ticks < 2 {
        return if lo.is_finite() { vec![lo] } else { Vec::new() };
    }
    let raw = (hi - lo) / (max_ticks - 1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let m = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|m| m * mag >= raw)
        .unwrap_or(10.0);
    let step = m * mag;
    // k·m/10ⁿ (for small steps) is exact where k·m·10⁻ⁿ is not (0.6, not 0.6000000000000001).
    let at = |k: f64| {
        if mag < 1.0 {
            k * m / (1.0 / mag).round()
        } else {
            k * m * mag
        }
    };
    let mut out = Vec::new();
    let mut k = (lo / step).ceil();
    while at(k) <= hi + step * 1e-9 && out.len() <= max_ticks {
        let v = at(k);
        out.push(if v == 0.0 { 0.0 } else { v });
        k += 1.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_span_their_ends() {
        assert_eq!(ColourMap::Viridis.at(0.0), Color32::from_rgb(68, 1, 84));
        assert_eq!(ColourMap::Viridis.at(1.0), Color32::from_rgb(253, 231, 37));
        assert_eq!(ColourMap::Grey.at(0.0), Color32::BLACK);
        assert_eq!(ColourMap::Grey.at(1.0), Color32::WHITE);
        assert_eq!(
            ColourMap::Diverging.at(0.5),
            Color32::from_rgb(247, 247, 247)
        );
        assert_eq!(ColourMap::Grey.at(f64::NAN), Color32::BLACK);
    }

    #[test]
    fn diverging_is_centred_on_zero() {
        let s = Scale::new(ColourMap::Diverging, -1.0, 3.0);
        assert_eq!((s.lo, s.hi), (-3.0, 3.0));
        assert_eq!(
            s.pixel(0.0),
            Color32::from_rgb(247, 247, 247),
            "zero is white"
        );
        let neg = s.pixel(-3.0);
        let pos = s.pixel(3.0);
        assert!(neg.b() > neg.r(), "negative is blue: {neg:?}");
        assert!(pos.r() > pos.b(), "positive is red: {pos:?}");
    }

    #[test]
    fn auto_picks_diverging_for_signed_data() {
        assert_eq!(MapChoice::Auto.resolve(-0.1), ColourMap::Diverging);
        assert_eq!(MapChoice::Auto.resolve(0.0), ColourMap::Viridis);
        assert_eq!(MapChoice::Auto.resolve(f64::NAN), ColourMap::Viridis);
        assert_eq!(
            MapChoice::Fixed(ColourMap::Grey).resolve(-1.0),
            ColourMap::Grey
        );
    }

    #[test]
    fn special_values_have_their_own_colours() {
        for map in ColourMap::ALL {
            let s = Scale::new(map, 0.0, 1.0);
            assert_eq!(s.pixel(f64::NAN), NAN_COLOUR);
            assert_eq!(s.pixel(f64::INFINITY), POS_INF_COLOUR);
            assert_eq!(s.pixel(f64::NEG_INFINITY), NEG_INF_COLOUR);
            for i in 0..=100 {
                let c = s.pixel(f64::from(i) / 100.0);
                assert!(
                    c != NAN_COLOUR && c != POS_INF_COLOUR && c != NEG_INF_COLOUR,
                    "{map:?} never draws a finite value in a special colour"
                );
            }
        }
    }

    #[test]
    fn ticks_are_round_and_inside() {
        assert_eq!(nice_ticks(0.0, 1.0, 6), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let t = nice_ticks(-3.2, 7.9, 5);
        assert_eq!(t, vec![0.0, 5.0]);
        assert!(t.iter().all(|&v| (-3.2..=7.9).contains(&v)), "{t:?}");
        assert!(t.len() >= 2, "{t:?}");
        assert_eq!(nice_ticks(2.0, 2.0, 5), vec![2.0]);
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
    }
}

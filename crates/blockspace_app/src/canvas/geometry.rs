//! Geometry the canvas records while drawing (graph coordinates plus the graph → screen
//! transform): hit tests for selection, zoom to fit, where toolbar-added blocks go, and the
//! positions UI tests aim real pointer gestures at.

use std::collections::HashMap;

use blockspace_graph::BlockId;
use egui::emath::TSTransform;
use egui::{Pos2, Rect};

/// Geometry recorded while drawing, in graph coordinates, plus the graph → screen transform.
/// Used for hit tests (selection), zoom-to-fit and by UI tests to aim real pointer gestures.
#[derive(Clone, Debug)]
pub struct CanvasGeometry {
    /// Graph → screen.
    pub to_screen: TSTransform,
    /// The canvas rectangle on screen.
    pub screen_rect: Rect,
    /// Each node's rectangle (graph coordinates), in draw order (topmost last).
    pub node_rects: Vec<(BlockId, Rect)>,
    /// Input pin rows (graph coordinates): block, port → row rectangle.
    pub input_rows: HashMap<(BlockId, usize), Rect>,
    /// Output pin rows (graph coordinates).
    pub output_rows: HashMap<(BlockId, usize), Rect>,
    /// Error badges (graph coordinates).
    pub badges: HashMap<BlockId, Rect>,
}

impl Default for CanvasGeometry {
    fn default() -> Self {
        Self {
            to_screen: TSTransform::IDENTITY,
            screen_rect: Rect::NOTHING,
            node_rects: Vec::new(),
            input_rows: HashMap::new(),
            output_rows: HashMap::new(),
            badges: HashMap::new(),
        }
    }
}

impl CanvasGeometry {
    /// The topmost block under a screen position.
    #[must_use]
    pub fn block_at(&self, screen: Pos2) -> Option<BlockId> {
        let p = self.to_screen.inverse() * screen;
        self.node_rects
            .iter()
            .rev()
            .find(|(_, r)| r.contains(p))
            .map(|(id, _)| *id)
    }

    /// Screen position of an input pin (left edge of its row).
    #[must_use]
    pub fn input_pin_screen(&self, block: BlockId, port: usize) -> Option<Pos2> {
        let node = self.node_rects.iter().find(|(id, _)| *id == block)?.1;
        let row = self.input_rows.get(&(block, port))?;
        Some(self.to_screen * egui::pos2(node.left(), row.center().y))
    }

    /// Screen position of an output pin (right edge of its row).
    #[must_use]
    pub fn output_pin_screen(&self, block: BlockId, port: usize) -> Option<Pos2> {
        let node = self.node_rects.iter().find(|(id, _)| *id == block)?.1;
        let row = self.output_rows.get(&(block, port))?;
        Some(self.to_screen * egui::pos2(node.right(), row.center().y))
    }

    /// Screen position of a block's error badge, if it shows one.
    #[must_use]
    pub fn badge_screen(&self, block: BlockId) -> Option<Pos2> {
        Some(self.to_screen * self.badges.get(&block)?.center())
    }

    /// Screen rectangle of a block.
    #[must_use]
    pub fn block_screen_rect(&self, block: BlockId) -> Option<Rect> {
        let r = self.node_rects.iter().find(|(id, _)| *id == block)?.1;
        Some(self.to_screen * r)
    }

    /// The transform that fits `bounds` (graph coordinates) into the canvas.
    #[must_use]
    pub fn fit(&self, bounds: Rect) -> Option<TSTransform> {
        if !bounds.is_finite()
            || !self.screen_rect.is_finite()
            || bounds.width() <= 0.0
            || self.screen_rect.width() <= 0.0
        {
            return None;
        }
        let b = bounds.expand(40.0);
        let s = (self.screen_rect.width() / b.width())
            .min(self.screen_rect.height() / b.height())
            .clamp(0.2, 1.5);
        let t = self.screen_rect.center().to_vec2() - b.center().to_vec2() * s;
        Some(TSTransform::new(t, s))
    }
}

impl CanvasGeometry {
    /// Where a block added from the toolbar goes (graph coordinates): near the centre of the
    /// view, in the first spot (on a spiral) that overlaps no block.
    #[must_use]
    pub fn free_spot_near_centre(&self) -> [f32; 2] {
        let c = self.to_screen.inverse() * self.screen_rect.center();
        let size = egui::vec2(240.0, 150.0);
        let free = |p: Pos2| {
            let r = Rect::from_min_size(p, size).expand(10.0);
            !self.node_rects.iter().any(|(_, n)| n.intersects(r))
        };
        let start = c - size * 0.5;
        for i in 0..64 {
            let angle = i as f32 * 0.9;
            let radius = 40.0 * (i as f32).sqrt() * 2.0;
            let p = start + egui::vec2(angle.cos(), angle.sin()) * radius;
            if free(p) {
                return [p.x, p.y];
            }
        }
        [start.x, start.y]
    }
}

impl CanvasGeometry {
    /// The transform that fits every block of `page` into the canvas: positions from the model,
    /// sizes as drawn last frame (a guess for blocks not drawn yet).
    #[must_use]
    pub fn fit_page(&self, page: &blockspace_graph::Page) -> Option<TSTransform> {
        let sizes: HashMap<BlockId, egui::Vec2> = self
            .node_rects
            .iter()
            .map(|(id, r)| (*id, r.size()))
            .collect();
        let bounds = page.blocks().fold(Rect::NOTHING, |a, b| {
            let size = sizes
                .get(&b.id)
                .copied()
                .unwrap_or(egui::vec2(200.0, 120.0));
            a.union(Rect::from_min_size(egui::pos2(b.pos[0], b.pos[1]), size))
        });
        self.fit(bounds)
    }
}

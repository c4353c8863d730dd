//! The validator never panics, whatever an op carries, and a refused op changes nothing.

mod common;

use common::peer;
use lectern_board::{Board, Permissions, Snapshot, check_ephemeral};
use lectern_proto::{
    AssetRef, Background, BoardAction, BoardEphemeral, BoardOp, Color, GrantScope, PageId, Point,
    PointRange, Pos, Rect, Role, ShapeId, ShapeKind, Style, Transform,
};
use proptest::prelude::*;

/// Any f32 at all, NaN and infinities included, with extra weight on the edges.
fn num() -> impl Strategy<Value = f32> {
    prop_oneof![
        3 => any::<f32>(),
        2 => -3000.0f32..5000.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(-0.0f32),
        1 => Just(f32::MAX),
    ]
}

fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("t:1".to_string()),
        3 => Just("t:2".to_string()),
        2 => Just("t:3".to_string()),
        2 => "[a-z0-9:/._-]{1,12}",
    ]
}

fn page() -> impl Strategy<Value = PageId> {
    id_text().prop_map(|s| PageId::new(s).unwrap())
}

fn shape_id() -> impl Strategy<Value = ShapeId> {
    id_text().prop_map(|s| ShapeId::new(s).unwrap())
}

fn point() -> impl Strategy<Value = Point> {
    (num(), num(), num()).prop_map(|(x, y, pressure)| Point { x, y, pressure })
}

fn points() -> impl Strategy<Value = Vec<Point>> {
    prop_oneof![
        4 => prop::collection::vec(point(), 0..8),
        1 => prop::collection::vec(point(), 1000..1100),
    ]
}

fn pos() -> impl Strategy<Value = Pos> {
    (num(), num()).prop_map(|(x, y)| Pos { x, y })
}

fn rect() -> impl Strategy<Value = Rect> {
    (num(), num(), num(), num()).prop_map(|(x, y, w, h)| Rect { x, y, w, h })
}

fn style() -> impl Strategy<Value = Style> {
    (any::<u32>(), num(), num(), any::<bool>(), any::<bool>()).prop_map(
        |(c, width, opacity, highlighter, fill)| Style {
            color: Color::rgb(c),
            width,
            opacity,
            highlighter,
            fill: fill.then(|| Color::rgb(!c)),
        },
    )
}

fn kind() -> BoxedStrategy<ShapeKind> {
    prop_oneof![
        (points(), any::<bool>(), any::<bool>()).prop_map(|(points, smooth, finished)| {
            ShapeKind::Stroke {
                points,
                smooth,
                finished,
            }
        }),
        (pos(), pos()).prop_map(|(from, to)| ShapeKind::Line { from, to }),
        (pos(), pos()).prop_map(|(from, to)| ShapeKind::Arrow { from, to }),
        rect().prop_map(|rect| ShapeKind::Rectangle { rect }),
        rect().prop_map(|rect| ShapeKind::Ellipse { rect }),
        (pos(), ".{0,40}", num()).prop_map(|(at, text, size)| ShapeKind::Text { at, text, size }),
        (pos(), 4000..4100usize).prop_map(|(at, n)| ShapeKind::Text {
            at,
            text: "é".repeat(n),
            size: 10.0
        }),
        rect().prop_map(|rect| ShapeKind::Image {
            asset: AssetRef::new("a").unwrap(),
            rect
        }),
    ]
    .boxed()
}

fn transform() -> impl Strategy<Value = Transform> {
    (num(), num(), num(), num()).prop_map(|(dx, dy, scale, rotation)| Transform {
        dx,
        dy,
        scale,
        rotation,
    })
}

fn ranges() -> impl Strategy<Value = Vec<PointRange>> {
    prop::collection::vec((any::<u32>(), any::<u32>(), 0..12u32, 0..12u32), 0..6).prop_map(|v| {
        v.into_iter()
            .map(|(a, b, c, d)| {
                // Mostly small indices that hit real points, sometimes anything.
                if a.is_multiple_of(4) {
                    PointRange { start: a, end: b }
                } else {
                    PointRange { start: c, end: d }
                }
            })
            .collect()
    })
}

fn garbage_action() -> BoxedStrategy<BoardAction> {
    // Boxed arms: one deeply nested strategy type overflows the test thread's stack.
    let arms: Vec<BoxedStrategy<BoardAction>> = vec![
        proptest::option::of(any::<u32>())
            .prop_map(|index| BoardAction::AddPage {
                index,
                background: None,
            })
            .boxed(),
        page()
            .prop_map(|page| BoardAction::RemovePage { page })
            .boxed(),
        (page(), any::<u32>())
            .prop_map(|(page, index)| BoardAction::ReorderPage { page, index })
            .boxed(),
        (page(), any::<u32>())
            .prop_map(|(page, p)| BoardAction::SetBackground {
                page,
                background: Some(Background::Document {
                    doc: AssetRef::new("d").unwrap(),
                    page: p,
                }),
            })
            .boxed(),
        page()
            .prop_map(|page| BoardAction::SetCurrentPage { page })
            .boxed(),
        (page(), style(), any::<bool>(), points())
            .prop_map(|(page, style, smooth, points)| BoardAction::BeginStroke {
                page,
                style,
                smooth,
                points,
            })
            .boxed(),
        (page(), shape_id(), points())
            .prop_map(|(page, stroke, points)| BoardAction::AppendStroke {
                page,
                stroke,
                points,
            })
            .boxed(),
        (page(), shape_id())
            .prop_map(|(page, stroke)| BoardAction::EndStroke { page, stroke })
            .boxed(),
        (page(), style(), kind())
            .prop_map(|(page, style, shape)| BoardAction::AddShape { page, style, shape })
            .boxed(),
        (page(), shape_id(), transform())
            .prop_map(|(page, shape, transform)| BoardAction::TransformShape {
                page,
                shape,
                transform,
            })
            .boxed(),
        (page(), prop::collection::vec(shape_id(), 0..5))
            .prop_map(|(page, shapes)| BoardAction::EraseShapes { page, shapes })
            .boxed(),
        (page(), shape_id(), ranges())
            .prop_map(|(page, stroke, ranges)| BoardAction::PartialErase {
                page,
                stroke,
                ranges,
            })
            .boxed(),
        page()
            .prop_map(|page| BoardAction::ClearPage { page })
            .boxed(),
        Just(BoardAction::Undo).boxed(),
        Just(BoardAction::Redo).boxed(),
    ];
    proptest::strategy::Union::new(arms).boxed()
}

/// A board with pages t:1..t:3 and a few shapes with ids t:1..t:3 as well.
fn seeded() -> Board {
    let t = peer("t");
    let mut b = Board::new();
    let mut seq = 0;
    let mut op = |b: &mut Board, action| {
        seq += 1;
        b.apply(&BoardOp::new(t.clone(), seq, action)).unwrap();
    };
    for _ in 0..3 {
        op(
            &mut b,
            BoardAction::AddPage {
                index: None,
                background: None,
            },
        );
    }
    let _ = &mut op;
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn garbage_ops_never_panic_and_refusals_change_nothing(
        ops in prop::collection::vec((0..3usize, any::<u64>(), garbage_action()), 1..40),
    ) {
        let authors = [peer("t"), peer("s"), peer("t.2")];
        let mut board = seeded();
        let mut perms = Permissions::new();
        perms.grant(peer("s"), GrantScope::Pages { pages: vec![PageId::new("t:1").unwrap()] });
        for (a, seq, action) in ops {
            let who = &authors[a];
            // Small counters mostly, so ops get past the repeat check to the interesting parts.
            let client_seq = if seq.is_multiple_of(3) { seq } else { board.last_client_seq(who) + 1 };
            let op = BoardOp::new(who.clone(), client_seq, action);
            let _ = perms.check(who, Role::Student, &op.action);
            let before = board.clone();
            if let Err(e) = board.apply(&op) {
                prop_assert!(!e.code().is_empty());
                prop_assert_eq!(&board, &before);
            }
        }
        // Whatever was accepted survives a trip through JSON.
        let json = board.to_json();
        prop_assert_eq!(Board::from_json(&json).unwrap(), board);
    }

    #[test]
    fn garbage_json_never_panics(text in ".{0,200}", cut in 0..400usize) {
        let _ = Snapshot::from_json(&text);
        let _ = Board::from_json(&text);
        let _ = serde_json::from_str::<BoardOp>(&text);
        // Truncated and spliced real documents are the likelier kind of damage.
        let real = seeded().to_json();
        let cut = cut.min(real.len());
        if real.is_char_boundary(cut) {
            let _ = Board::from_json(&real[..cut]);
            let _ = Board::from_json(&format!("{}{}", &real[..cut], text));
        }
    }

    #[test]
    fn garbage_ephemera_never_panic(trail in prop::collection::vec(pos(), 0..200), at in proptest::option::of(pos())) {
        let perms = Permissions::new();
        let page = PageId::new("t:1").unwrap();
        for e in [
            BoardEphemeral::Laser { page: page.clone(), trail: trail.clone() },
            BoardEphemeral::Cursor { page: page.clone(), at },
        ] {
            let _ = check_ephemeral(&e);
            let _ = perms.check_ephemeral(&peer("s"), Role::Student, &e);
        }
    }
}

#[test]
fn ops_in_json_from_an_unknown_build_are_refused_at_parse_time() {
    for bad in [
        r#"{"author":"t","client_seq":1,"action":{"type":"explode"}}"#,
        r#"{"author":"t","client_seq":-1,"action":{"type":"undo"}}"#,
        r#"{"author":"../x","client_seq":1,"action":{"type":"undo"}}"#,
        r##"{"author":"t","client_seq":1,"action":{"type":"add_shape","page":"t:1","style":{"color":"red","width":1},"shape":{"type":"line","from":{"x":0,"y":0},"to":{"x":1,"y":1}}}}"##,
        r#"{"author":"t","client_seq":1,"action":{"type":"clear_page","page":"a b"}}"#,
    ] {
        assert!(serde_json::from_str::<BoardOp>(bad).is_err(), "{bad}");
    }
}

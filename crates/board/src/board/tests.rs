use super::*;
use crate::limits::{MAX_ERASE_BATCH, MAX_POINTS_PER_BATCH, MAX_TEXT_CHARS};
use lectern_proto::{AssetRef, Background, Color, Point, Pos, Rect, Style};

fn peer(s: &str) -> PeerId {
    PeerId::new(s).unwrap()
}

/// Applies `action` as the next op of `who`.
fn run(board: &mut Board, who: &str, action: BoardAction) -> Result<Applied, BoardError> {
    let author = peer(who);
    let seq = board.last_client_seq(&author) + 1;
    board.apply(&BoardOp::new(author, seq, action))
}

/// Like [`run`], and asserts that a refused op left the board as it was.
fn refused(board: &mut Board, who: &str, action: BoardAction) -> BoardError {
    let before = board.clone();
    let err = run(board, who, action).expect_err("the op should be refused");
    assert_eq!(*board, before, "a refused op changed the board");
    err
}

fn style() -> Style {
    Style {
        color: Color::rgb(0x202020),
        width: 3.0,
        opacity: 1.0,
        highlighter: false,
        fill: None,
    }
}

fn pt(x: f32, y: f32) -> Point {
    Point {
        x,
        y,
        pressure: 0.5,
    }
}

fn pts(n: usize) -> Vec<Point> {
    (0..n).map(|i| pt(i as f32, i as f32 / 2.0)).collect()
}

fn add_page(board: &mut Board, who: &str) -> PageId {
    let applied = run(
        board,
        who,
        BoardAction::AddPage {
            index: None,
            background: None,
        },
    )
    .unwrap();
    applied.op.page_id()
}

fn stroke(board: &mut Board, who: &str, page: &PageId, n: usize) -> ShapeId {
    let begun = run(
        board,
        who,
        BoardAction::BeginStroke {
            page: page.clone(),
            style: style(),
            smooth: true,
            points: pts(n),
        },
    )
    .unwrap();
    let id = begun.op.shape_id();
    run(
        board,
        who,
        BoardAction::EndStroke {
            page: page.clone(),
            stroke: id.clone(),
        },
    )
    .unwrap();
    id
}

fn rect_shape(board: &mut Board, who: &str, page: &PageId) -> ShapeId {
    let applied = run(
        board,
        who,
        BoardAction::AddShape {
            page: page.clone(),
            style: style(),
            shape: ShapeKind::Rectangle {
                rect: Rect {
                    x: 10.0,
                    y: 10.0,
                    w: 100.0,
                    h: 50.0,
                },
            },
        },
    )
    .unwrap();
    applied.op.shape_id()
}

fn ids(board: &Board, page: &PageId) -> Vec<String> {
    board
        .page(page)
        .unwrap()
        .shapes
        .iter()
        .map(|s| s.id.to_string())
        .collect()
}

fn stroke_points(board: &Board, page: &PageId, id: &ShapeId) -> Vec<Point> {
    let p = board.page(page).unwrap();
    match &p.shapes[shape_index(p, id).unwrap()].kind {
        ShapeKind::Stroke { points, .. } => points.clone(),
        _ => panic!("not a stroke"),
    }
}

#[test]
fn pages_are_added_where_asked_and_the_first_becomes_current() {
    let mut b = Board::new();
    assert_eq!(b.current_page(), None);
    let p1 = add_page(&mut b, "t");
    assert_eq!(p1.as_str(), "t:1");
    assert_eq!(b.current_page(), Some(&p1));
    let applied = run(
        &mut b,
        "t",
        BoardAction::AddPage {
            index: Some(0),
            background: Some(Background::Document {
                doc: AssetRef::new("deck").unwrap(),
                page: 3,
            }),
        },
    )
    .unwrap();
    assert!(applied.page_list && !applied.current_page);
    let p2 = applied.op.page_id();
    let order: Vec<_> = b.pages().iter().map(|p| p.id.clone()).collect();
    assert_eq!(order, vec![p2.clone(), p1.clone()]);
    assert_eq!(b.current_page(), Some(&p1));
    // An index past the end appends.
    run(
        &mut b,
        "t",
        BoardAction::AddPage {
            index: Some(99),
            background: None,
        },
    )
    .unwrap();
    assert_eq!(b.pages()[2].id.as_str(), "t:3");
}

#[test]
fn pages_have_a_limit() {
    let mut b = Board::new();
    for _ in 0..limits::MAX_PAGES {
        add_page(&mut b, "t");
    }
    let err = refused(
        &mut b,
        "t",
        BoardAction::AddPage {
            index: None,
            background: None,
        },
    );
    assert_eq!(err, BoardError::TooManyPages);
}

#[test]
fn removing_the_current_page_moves_current_to_its_neighbour() {
    let mut b = Board::new();
    let p1 = add_page(&mut b, "t");
    let p2 = add_page(&mut b, "t");
    run(
        &mut b,
        "t",
        BoardAction::SetCurrentPage { page: p2.clone() },
    )
    .unwrap();
    let applied = run(&mut b, "t", BoardAction::RemovePage { page: p2.clone() }).unwrap();
    assert!(applied.current_page);
    assert_eq!(b.current_page(), Some(&p1));
    run(&mut b, "t", BoardAction::RemovePage { page: p1.clone() }).unwrap();
    assert_eq!(b.current_page(), None);
    assert_eq!(
        refused(&mut b, "t", BoardAction::RemovePage { page: p1 }),
        BoardError::PageNotFound
    );
    // Undo brings the page back and makes it current again.
    run(&mut b, "t", BoardAction::Undo).unwrap();
    assert_eq!(b.pages().len(), 1);
    assert_eq!(b.current_page().map(PageId::as_str), Some("t:1"));
}

#[test]
fn pages_reorder_and_undo_puts_them_back() {
    let mut b = Board::new();
    let p1 = add_page(&mut b, "t");
    let p2 = add_page(&mut b, "t");
    let p3 = add_page(&mut b, "t");
    run(
        &mut b,
        "t",
        BoardAction::ReorderPage {
            page: p1.clone(),
            index: 7,
        },
    )
    .unwrap();
    let order = |b: &Board| b.pages().iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    assert_eq!(order(&b), vec![p2.clone(), p3.clone(), p1.clone()]);
    run(&mut b, "t", BoardAction::Undo).unwrap();
    assert_eq!(order(&b), vec![p1.clone(), p2.clone(), p3.clone()]);
    let missing = PageId::new("x:1").unwrap();
    assert_eq!(
        refused(
            &mut b,
            "t",
            BoardAction::ReorderPage {
                page: missing,
                index: 0
            }
        ),
        BoardError::PageNotFound
    );
}

#[test]
fn backgrounds_are_set_cleared_and_undone() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let bg = Background::Image {
        asset: AssetRef::new("img-1.png").unwrap(),
    };
    run(
        &mut b,
        "t",
        BoardAction::SetBackground {
            page: p.clone(),
            background: Some(bg.clone()),
        },
    )
    .unwrap();
    assert_eq!(b.page(&p).unwrap().background, Some(bg));
    run(&mut b, "t", BoardAction::Undo).unwrap();
    assert_eq!(b.page(&p).unwrap().background, None);
}

#[test]
fn navigation_is_checked_and_not_an_undo_step() {
    let mut b = Board::new();
    let p1 = add_page(&mut b, "t");
    let p2 = add_page(&mut b, "t");
    let applied = run(
        &mut b,
        "t",
        BoardAction::SetCurrentPage { page: p2.clone() },
    )
    .unwrap();
    assert!(applied.current_page);
    assert_eq!(b.current_page(), Some(&p2));
    let missing = PageId::new("x:1").unwrap();
    assert_eq!(
        refused(&mut b, "t", BoardAction::SetCurrentPage { page: missing }),
        BoardError::PageNotFound
    );
    // The undo takes back the second page, not the navigation.
    run(&mut b, "t", BoardAction::Undo).unwrap();
    assert_eq!(b.pages().len(), 1);
    assert_eq!(b.current_page(), Some(&p1));
}

#[test]
fn a_stroke_streams_in_batches_and_pen_up_makes_it_one_step() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let begun = run(
        &mut b,
        "s",
        BoardAction::BeginStroke {
            page: p.clone(),
            style: style(),
            smooth: false,
            points: pts(3),
        },
    )
    .unwrap();
    assert_eq!(begun.pages, vec![p.clone()]);
    let id = begun.op.shape_id();
    assert_eq!(id.as_str(), "s:1");
    let append = |n| BoardAction::AppendStroke {
        page: p.clone(),
        stroke: id.clone(),
        points: pts(n),
    };
    run(&mut b, "s", append(4)).unwrap();
    assert_eq!(stroke_points(&b, &p, &id).len(), 7);
    // Someone else cannot add to it.
    assert_eq!(refused(&mut b, "t", append(1)), BoardError::NotYourStroke);
    run(
        &mut b,
        "s",
        BoardAction::EndStroke {
            page: p.clone(),
            stroke: id.clone(),
        },
    )
    .unwrap();
    assert_eq!(refused(&mut b, "s", append(1)), BoardError::StrokeFinished);
    run(&mut b, "s", BoardAction::Undo).unwrap();
    assert!(b.page(&p).unwrap().shapes.is_empty());
}

#[test]
fn stroke_points_are_limited_and_checked() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let begin = |points| BoardAction::BeginStroke {
        page: p.clone(),
        style: style(),
        smooth: true,
        points,
    };
    assert_eq!(refused(&mut b, "t", begin(vec![])), BoardError::Empty);
    assert_eq!(
        refused(&mut b, "t", begin(pts(MAX_POINTS_PER_BATCH + 1))),
        BoardError::BatchTooLarge
    );
    assert_eq!(
        refused(&mut b, "t", begin(vec![pt(f32::NAN, 1.0)])),
        BoardError::BadNumber("coordinate")
    );
    assert_eq!(
        refused(&mut b, "t", begin(vec![pt(5000.0, 1.0)])),
        BoardError::OutOfBounds
    );
    let mut heavy = pt(1.0, 1.0);
    heavy.pressure = 1.5;
    assert_eq!(
        refused(&mut b, "t", begin(vec![heavy])),
        BoardError::BadNumber("pressure")
    );
    let id = run(&mut b, "t", begin(pts(MAX_POINTS_PER_BATCH)))
        .unwrap()
        .op
        .shape_id();
    let append = BoardAction::AppendStroke {
        page: p.clone(),
        stroke: id.clone(),
        points: pts(MAX_POINTS_PER_BATCH),
    };
    let fits = limits::MAX_POINTS_PER_STROKE / MAX_POINTS_PER_BATCH - 1;
    for _ in 0..fits {
        run(&mut b, "t", append.clone()).unwrap();
    }
    assert_eq!(refused(&mut b, "t", append), BoardError::StrokeTooLong);
}

#[test]
fn stroke_ops_need_a_stroke() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let r = rect_shape(&mut b, "t", &p);
    let end = BoardAction::EndStroke {
        page: p.clone(),
        stroke: r.clone(),
    };
    assert_eq!(refused(&mut b, "t", end), BoardError::NotAStroke);
    let cut = BoardAction::PartialErase {
        page: p.clone(),
        stroke: r,
        ranges: vec![PointRange { start: 0, end: 1 }],
    };
    assert_eq!(refused(&mut b, "t", cut), BoardError::NotAStroke);
    let gone = BoardAction::EndStroke {
        page: p.clone(),
        stroke: ShapeId::new("t:99").unwrap(),
    };
    assert_eq!(refused(&mut b, "t", gone), BoardError::ShapeNotFound);
}

#[test]
fn every_shape_kind_is_added_and_checked() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let at = Pos { x: 5.0, y: 6.0 };
    let r = Rect {
        x: 1.0,
        y: 2.0,
        w: 30.0,
        h: 40.0,
    };
    let kinds = [
        ShapeKind::Stroke {
            points: pts(5),
            smooth: true,
            finished: false,
        },
        ShapeKind::Line { from: at, to: at },
        ShapeKind::Arrow { from: at, to: at },
        ShapeKind::Rectangle { rect: r },
        ShapeKind::Ellipse { rect: r },
        ShapeKind::Text {
            at,
            text: "x²".into(),
            size: 24.0,
        },
        ShapeKind::Image {
            asset: AssetRef::new("a.png").unwrap(),
            rect: r,
        },
    ];
    let add = |shape: ShapeKind, style: Style| BoardAction::AddShape {
        page: p.clone(),
        style,
        shape,
    };
    for k in &kinds {
        run(&mut b, "t", add(k.clone(), style())).unwrap();
    }
    let page = b.page(&p).unwrap();
    assert_eq!(page.shapes.len(), kinds.len());
    // A pasted stroke is finished: nobody's pen is on it.
    assert!(matches!(
        page.shapes[0].kind,
        ShapeKind::Stroke { finished: true, .. }
    ));

    let text = |text: String, size| ShapeKind::Text { at, text, size };
    assert_eq!(
        refused(
            &mut b,
            "t",
            add(text("y".repeat(MAX_TEXT_CHARS + 1), 12.0), style())
        ),
        BoardError::TextTooLong
    );
    assert_eq!(
        refused(&mut b, "t", add(text(String::new(), 12.0), style())),
        BoardError::Empty
    );
    assert_eq!(
        refused(&mut b, "t", add(text("y".into(), 0.0), style())),
        BoardError::BadNumber("text size")
    );
    let mut wide = style();
    wide.width = f32::INFINITY;
    assert_eq!(
        refused(&mut b, "t", add(kinds[1].clone(), wide)),
        BoardError::BadNumber("width")
    );
    let mut ghost = style();
    ghost.opacity = -0.1;
    assert_eq!(
        refused(&mut b, "t", add(kinds[1].clone(), ghost)),
        BoardError::BadNumber("opacity")
    );
    let negative = ShapeKind::Rectangle {
        rect: Rect { w: -1.0, ..r },
    };
    assert_eq!(
        refused(&mut b, "t", add(negative, style())),
        BoardError::BadNumber("rect size")
    );
    let missing = BoardAction::AddShape {
        page: PageId::new("x:1").unwrap(),
        style: style(),
        shape: kinds[1].clone(),
    };
    assert_eq!(refused(&mut b, "t", missing), BoardError::PageNotFound);
}

#[test]
fn a_full_page_takes_no_more_shapes() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let shape = b.page(&p).cloned().unwrap();
    // Fill the page through a stored document rather than ten thousand ops.
    let mut json: serde_json::Value = serde_json::from_str(&b.to_json()).unwrap();
    let one = serde_json::json!({
        "id": "x:0", "author": "x", "style": {"color": "#000000", "width": 1.0},
        "kind": {"type": "line", "from": {"x": 0.0, "y": 0.0}, "to": {"x": 1.0, "y": 1.0}}
    });
    let shapes: Vec<_> = (0..limits::MAX_SHAPES_PER_PAGE)
        .map(|i| {
            let mut s = one.clone();
            s["id"] = format!("x:{i}").into();
            s
        })
        .collect();
    json["board"]["pages"][0]["shapes"] = shapes.into();
    let mut full = Board::from_json(&json.to_string()).unwrap();
    assert_eq!(
        full.page(&shape.id).unwrap().shapes.len(),
        limits::MAX_SHAPES_PER_PAGE
    );
    let add = BoardAction::AddShape {
        page: p.clone(),
        style: style(),
        shape: ShapeKind::Line {
            from: Pos::default(),
            to: Pos::default(),
        },
    };
    assert_eq!(refused(&mut full, "t", add), BoardError::TooManyShapes);
}

#[test]
fn shapes_move_and_undo_restores_the_exact_transform() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let r = rect_shape(&mut b, "t", &p);
    let t = Transform {
        dx: 12.5,
        dy: -3.0,
        scale: 2.0,
        rotation: 0.25,
    };
    let set = |transform| BoardAction::TransformShape {
        page: p.clone(),
        shape: r.clone(),
        transform,
    };
    run(&mut b, "s", set(t)).unwrap();
    assert_eq!(b.page(&p).unwrap().shapes[0].transform, t);
    run(&mut b, "s", BoardAction::Undo).unwrap();
    assert_eq!(b.page(&p).unwrap().shapes[0].transform, Transform::IDENTITY);
    let tiny = Transform { scale: 0.0, ..t };
    assert_eq!(
        refused(&mut b, "s", set(tiny)),
        BoardError::BadNumber("scale")
    );
    let far = Transform { dx: 1e9, ..t };
    assert_eq!(refused(&mut b, "s", set(far)), BoardError::BadNumber("dx"));
}

#[test]
fn erase_removes_what_is_there_and_skips_what_is_gone() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let a = stroke(&mut b, "t", &p, 3);
    let c = rect_shape(&mut b, "t", &p);
    let gone = ShapeId::new("z:1").unwrap();
    let erase = |shapes| BoardAction::EraseShapes {
        page: p.clone(),
        shapes,
    };
    run(&mut b, "t", erase(vec![a.clone(), gone.clone()])).unwrap();
    assert_eq!(ids(&b, &p), vec![c.to_string()]);
    assert_eq!(
        refused(&mut b, "t", erase(vec![a.clone(), gone])),
        BoardError::ShapeNotFound
    );
    assert_eq!(refused(&mut b, "t", erase(vec![])), BoardError::Empty);
    assert_eq!(
        refused(&mut b, "t", erase(vec![c.clone(); MAX_ERASE_BATCH + 1])),
        BoardError::BatchTooLarge
    );
    run(&mut b, "t", BoardAction::Undo).unwrap();
    assert_eq!(ids(&b, &p), vec![a.to_string(), c.to_string()]);
}

#[test]
fn partial_erase_leaves_pieces_with_ids_from_the_op() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let before = rect_shape(&mut b, "t", &p);
    let s = stroke(&mut b, "t", &p, 10);
    let after = rect_shape(&mut b, "t", &p);
    let original = stroke_points(&b, &p, &s);
    let cut = |ranges: Vec<(u32, u32)>| BoardAction::PartialErase {
        page: p.clone(),
        stroke: s.clone(),
        ranges: ranges
            .into_iter()
            .map(|(start, end)| PointRange { start, end })
            .collect(),
    };
    let applied = run(&mut b, "e", cut(vec![(0, 2), (4, 5), (8, 10)])).unwrap();
    let op = applied.op;
    assert_eq!(op.to_string(), "e:1");
    // Runs 2..4 and 5..8 survive, in the stroke's place in the z-order.
    assert_eq!(
        ids(&b, &p),
        vec![
            before.to_string(),
            "e:1/0".into(),
            "e:1/1".into(),
            after.to_string()
        ]
    );
    assert_eq!(stroke_points(&b, &p, &op.piece_id(0)), original[2..4]);
    assert_eq!(stroke_points(&b, &p, &op.piece_id(1)), original[5..8]);
    run(&mut b, "e", BoardAction::Undo).unwrap();
    assert_eq!(
        ids(&b, &p),
        vec![before.to_string(), s.to_string(), after.to_string()]
    );
    assert_eq!(
        refused(&mut b, "e", cut(vec![(3, 2)])),
        BoardError::BadRange
    );
    assert_eq!(
        refused(&mut b, "e", cut(vec![(0, 4), (3, 5)])),
        BoardError::BadRange
    );
    assert_eq!(
        refused(&mut b, "e", cut(vec![(5, 11)])),
        BoardError::BadRange
    );
    assert_eq!(refused(&mut b, "e", cut(vec![])), BoardError::Empty);
    // Cutting every point removes the stroke.
    run(&mut b, "e", cut(vec![(0, 10)])).unwrap();
    assert_eq!(ids(&b, &p), vec![before.to_string(), after.to_string()]);
}

#[test]
fn clear_page_is_one_undo_step_that_restores_the_order() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    stroke(&mut b, "s", &p, 2);
    rect_shape(&mut b, "t", &p);
    stroke(&mut b, "s", &p, 4);
    let all = ids(&b, &p);
    run(&mut b, "t", BoardAction::ClearPage { page: p.clone() }).unwrap();
    assert!(ids(&b, &p).is_empty());
    run(&mut b, "t", BoardAction::Undo).unwrap();
    assert_eq!(ids(&b, &p), all);
    run(&mut b, "t", BoardAction::Redo).unwrap();
    assert!(ids(&b, &p).is_empty());
    let missing = PageId::new("x:1").unwrap();
    assert_eq!(
        refused(&mut b, "t", BoardAction::ClearPage { page: missing }),
        BoardError::PageNotFound
    );
}

#[test]
fn undo_is_per_author_even_when_ops_interleave() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let a1 = stroke(&mut b, "a", &p, 2);
    let b1 = stroke(&mut b, "b", &p, 2);
    let a2 = stroke(&mut b, "a", &p, 2);
    let b2 = stroke(&mut b, "b", &p, 2);
    run(&mut b, "a", BoardAction::Undo).unwrap();
    assert_eq!(
        ids(&b, &p),
        vec![a1.to_string(), b1.to_string(), b2.to_string()]
    );
    run(&mut b, "b", BoardAction::Undo).unwrap();
    assert_eq!(ids(&b, &p), vec![a1.to_string(), b1.to_string()]);
    assert!(b.can_redo(&peer("a")));
    run(&mut b, "a", BoardAction::Redo).unwrap();
    assert_eq!(
        ids(&b, &p),
        vec![a1.to_string(), b1.to_string(), a2.to_string()]
    );
    assert_eq!(
        refused(&mut b, "a", BoardAction::Redo),
        BoardError::NothingToRedo
    );
    assert_eq!(
        refused(&mut b, "z", BoardAction::Undo),
        BoardError::NothingToUndo
    );
}

#[test]
fn a_new_edit_ends_redo_but_navigation_does_not() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    stroke(&mut b, "t", &p, 2);
    run(&mut b, "t", BoardAction::Undo).unwrap();
    run(&mut b, "t", BoardAction::SetCurrentPage { page: p.clone() }).unwrap();
    assert!(b.can_redo(&peer("t")));
    stroke(&mut b, "t", &p, 2);
    assert!(!b.can_redo(&peer("t")));
    assert_eq!(
        refused(&mut b, "t", BoardAction::Redo),
        BoardError::NothingToRedo
    );
}

#[test]
fn undo_skips_steps_others_already_took_away() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let first = stroke(&mut b, "s", &p, 2);
    let second = stroke(&mut b, "s", &p, 2);
    run(
        &mut b,
        "t",
        BoardAction::EraseShapes {
            page: p.clone(),
            shapes: vec![second],
        },
    )
    .unwrap();
    // The student's latest stroke is gone already; undo takes the one before.
    run(&mut b, "s", BoardAction::Undo).unwrap();
    assert!(ids(&b, &p).is_empty());
    assert!(!b.can_undo(&peer("s")));
    run(&mut b, "s", BoardAction::Redo).unwrap();
    assert_eq!(ids(&b, &p), vec![first.to_string()]);
}

#[test]
fn ops_apply_once_per_author_counter() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    let again = BoardOp::new(peer("t"), 1, BoardAction::ClearPage { page: p });
    let before = b.clone();
    assert_eq!(
        b.apply(&again),
        Err(BoardError::StaleOp {
            client_seq: 1,
            last: 1
        })
    );
    assert_eq!(b, before);
    // Counters may skip ahead.
    let mut skip = again.clone();
    skip.client_seq = 10;
    b.apply(&skip).unwrap();
    assert_eq!(b.last_client_seq(&peer("t")), 10);
}

#[test]
fn an_id_already_on_the_board_is_not_made_twice() {
    let mut b = Board::new();
    add_page(&mut b, "t");
    // A board whose clocks were lost (hand-edited) must still not duplicate ids.
    let mut json: serde_json::Value = serde_json::from_str(&b.to_json()).unwrap();
    json["board"]["clocks"] = serde_json::json!({});
    let mut b = Board::from_json(&json.to_string()).unwrap();
    let err = refused(
        &mut b,
        "t",
        BoardAction::AddPage {
            index: None,
            background: None,
        },
    );
    assert_eq!(err, BoardError::IdTaken);
}

#[test]
fn the_undo_history_is_bounded() {
    let mut b = Board::new();
    let p = add_page(&mut b, "t");
    for _ in 0..limits::MAX_UNDO_DEPTH + 5 {
        rect_shape(&mut b, "s", &p);
    }
    let mut undone = 0;
    while run(&mut b, "s", BoardAction::Undo).is_ok() {
        undone += 1;
    }
    assert_eq!(undone, limits::MAX_UNDO_DEPTH);
    assert_eq!(b.page(&p).unwrap().shapes.len(), 5);
}

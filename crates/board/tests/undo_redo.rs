//! Undo followed by as many redos lands on exactly the board before the undos, whatever
//! several authors did before.

mod common;

use common::{Intent, action, intent, peer};
use lectern_board::Board;
use lectern_proto::{BoardAction, BoardOp, PeerId};
use proptest::prelude::*;

fn apply(board: &mut Board, who: &PeerId, act: BoardAction) -> bool {
    let seq = board.last_client_seq(who) + 1;
    board.apply(&BoardOp::new(who.clone(), seq, act)).is_ok()
}

fn play(board: &mut Board, script: &[(usize, Intent)], authors: &[PeerId]) {
    for (a, intent) in script {
        let who = &authors[*a];
        if let Some(act) = action(intent, board, who) {
            apply(board, who, act);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn redo_after_undo_restores_the_board(
        script in prop::collection::vec((0..3usize, intent()), 0..120),
        who in 0..3usize,
        undos in 1..6usize,
    ) {
        let authors = [peer("t"), peer("a"), peer("b")];
        let mut board = Board::new();
        for _ in 0..2 {
            apply(&mut board, &authors[0], BoardAction::AddPage { index: None, background: None });
        }
        play(&mut board, &script, &authors);
        let who = &authors[who];
        let before = board.clone();
        let mut done = 0;
        for _ in 0..undos {
            let prior = board.clone();
            if !apply(&mut board, who, BoardAction::Undo) {
                break;
            }
            prop_assert!(!board.same_content(&prior), "an undo that succeeded changed nothing");
            done += 1;
        }
        for _ in 0..done {
            prop_assert!(apply(&mut board, who, BoardAction::Redo));
        }
        prop_assert!(board.same_content(&before));
        // And the history is whole again: the same undos are possible once more.
        let again = (0..done)
            .take_while(|_| apply(&mut board, who, BoardAction::Undo))
            .count();
        prop_assert_eq!(again, done);
    }
}

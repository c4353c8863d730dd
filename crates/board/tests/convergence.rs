//! Several clients draw at once over an in-memory relay whose messages arrive in any
//! interleaving; once the traffic settles, every client's board equals the relay's.

mod common;

use common::{Intent, action, intent, peer};
use lectern_board::{ClientBoard, Sequencer};
use lectern_proto::{BoardAction, BoardOp, GrantScope, PeerId, Role};
use proptest::prelude::*;
use std::collections::VecDeque;

/// What the relay sends one client.
#[derive(Debug)]
enum Down {
    Op(BoardOp),
    Refused(u64),
}

struct Net {
    server: Sequencer,
    clients: Vec<(PeerId, Role, ClientBoard)>,
    up: Vec<VecDeque<BoardOp>>,
    down: Vec<VecDeque<Down>>,
}

#[derive(Debug, Clone)]
enum Step {
    /// Client `c` does something.
    Local(usize, Intent),
    /// The oldest op client `c` sent reaches the relay.
    Deliver(usize),
    /// The oldest message for client `c` arrives.
    Receive(usize),
    /// The teacher hands the second student the pen for one page, or takes it back.
    Pen(bool, u8),
}

fn step() -> impl Strategy<Value = Step> {
    let c = 0..3usize;
    prop_oneof![
        6 => (c.clone(), intent()).prop_map(|(c, i)| Step::Local(c, i)),
        3 => c.clone().prop_map(Step::Deliver),
        3 => c.prop_map(Step::Receive),
        1 => (any::<bool>(), any::<u8>()).prop_map(|(on, p)| Step::Pen(on, p)),
    ]
}

impl Net {
    fn new() -> Self {
        let mut server = Sequencer::new();
        // The first student holds the pen for the whole board; the second only now and
        // then, for one page, so some of their ops are refused.
        server
            .permissions_mut()
            .grant(peer("s1"), GrantScope::Board);
        // Three pages to start with, so random scripts mostly draw rather than wait for one.
        for seq in 1..=3 {
            let add = BoardAction::AddPage {
                index: None,
                background: None,
            };
            server
                .submit(&peer("t"), Role::Teacher, BoardOp::new(peer("t"), seq, add))
                .unwrap();
        }
        let snapshot = server.snapshot();
        let clients = [
            ("t", Role::Teacher),
            ("s1", Role::Student),
            ("s2", Role::Student),
        ]
        .into_iter()
        .map(|(id, role)| (peer(id), role, ClientBoard::new(peer(id), snapshot.clone())))
        .collect();
        Self {
            server,
            clients,
            up: vec![VecDeque::new(); 3],
            down: (0..3).map(|_| VecDeque::new()).collect(),
        }
    }

    fn run(&mut self, step: &Step) {
        match step {
            Step::Local(c, intent) => {
                let (me, _, client) = &mut self.clients[*c];
                if let Some(act) = action(intent, client.board(), me) {
                    // An op that fails locally is never sent.
                    if let Ok((op, _)) = client.local(act) {
                        self.up[*c].push_back(op);
                    }
                }
            }
            Step::Deliver(c) => self.deliver(*c),
            Step::Receive(c) => self.receive(*c),
            Step::Pen(on, pick) => {
                let s2 = peer("s2");
                let perms = self.server.permissions_mut();
                if *on {
                    let pages = self.server.board().pages();
                    if !pages.is_empty() {
                        let page = pages[*pick as usize % pages.len()].id.clone();
                        self.server
                            .permissions_mut()
                            .grant(s2, GrantScope::Pages { pages: vec![page] });
                    }
                } else {
                    perms.revoke(&s2);
                }
            }
        }
    }

    fn deliver(&mut self, c: usize) {
        let Some(op) = self.up[c].pop_front() else {
            return;
        };
        let (who, role, _) = &self.clients[c];
        match self.server.submit(who, *role, op.clone()) {
            Ok((ordered, _)) => {
                for down in &mut self.down {
                    down.push_back(Down::Op(ordered.clone()));
                }
            }
            Err(_) => self.down[c].push_back(Down::Refused(op.client_seq)),
        }
    }

    fn receive(&mut self, c: usize) {
        let Some(msg) = self.down[c].pop_front() else {
            return;
        };
        let client = &mut self.clients[c].2;
        match msg {
            Down::Op(op) => {
                let fresh = client
                    .receive(&op)
                    .unwrap_or_else(|e| panic!("client {c} failed an ordered op: {e}"));
                assert!(fresh);
            }
            Down::Refused(seq) => client.refused(seq),
        }
    }

    fn settle(&mut self) {
        while self.up.iter().any(|q| !q.is_empty()) || self.down.iter().any(|q| !q.is_empty()) {
            for c in 0..3 {
                self.deliver(c);
            }
            for c in 0..3 {
                while !self.down[c].is_empty() {
                    self.receive(c);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn all_clients_end_where_the_relay_is(steps in prop::collection::vec(step(), 10..200)) {
        let mut net = Net::new();
        for s in &steps {
            net.run(s);
        }
        net.settle();
        let server = net.server.board();
        for (who, _, client) in &net.clients {
            prop_assert_eq!(client.pending().count(), 0, "{} still has pending ops", who);
            prop_assert_eq!(client.confirmed_seq(), net.server.seq());
            prop_assert_eq!(client.confirmed(), server);
            prop_assert_eq!(client.board(), server, "{}'s view differs from the relay", who);
        }
    }
}

#[test]
fn a_student_without_the_pen_is_refused_and_rolled_back() {
    let mut net = Net::new();
    net.run(&Step::Local(
        2,
        Intent::Begin {
            pick: 0,
            n: 3,
            smooth: true,
        },
    ));
    // Drawn at once on the student's own screen...
    assert_eq!(net.clients[2].2.board().pages()[0].shapes.len(), 1);
    net.settle();
    // ...and taken back when the relay says no.
    assert_eq!(net.clients[2].2.board().pages()[0].shapes.len(), 0);
    assert_eq!(net.server.board().pages()[0].shapes.len(), 0);
}

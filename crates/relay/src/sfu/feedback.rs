//! Lets keyframe requests and NACKs through to the application.
//!
//! In `rtc` 0.21 inbound RTCP ends at the interceptor chain unless an interceptor marks
//! a packet for the application. The relay needs PLI/FIR from subscribers (to forward
//! them to the publisher) and sees NACKs for its metrics; a publisher needs PLI/FIR to
//! make a keyframe. Receiver and sender reports stay inside the chain.

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use std::collections::VecDeque;
use std::time::Instant;

/// Where [`FeedbackToApplication`] sits in the chain: after every built-in interceptor,
/// so the NACK responder has already answered a NACK before the application sees it.
pub const FEEDBACK_SLOT: usize = 14_000;

/// Marks inbound RTCP holding a PLI, FIR or NACK for delivery to the application.
#[derive(Default)]
pub struct FeedbackToApplication {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for FeedbackToApplication {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet
            && packets.iter().any(|p| {
                let any = p.as_any();
                any.is::<PictureLossIndication>()
                    || any.is::<FullIntraRequest>()
                    || any.is::<TransportLayerNack>()
            })
        {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }

    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Error> {
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

impl std::fmt::Debug for FeedbackToApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeedbackToApplication")
    }
}

impl Interceptor for FeedbackToApplication {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

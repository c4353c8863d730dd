// Lectern student mini-program: joins a class on a Lectern relay (docs/protocol.md).
App({
  globalData: {
    // The relay's RTMP port (`rtmp` in relay.toml, default 1935). The join link names only
    // the relay's HTTP address, so the RTMP address is that host on this port.
    rtmpPort: 1935,
  },
});

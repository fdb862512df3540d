/// One live stream's state inside a `MuxSession` (docs/PROTOCOL.md, "Mux" → stream states).
///
/// A stream lives from OPEN until both directions are finished or either end resets it;
/// then it is removed, and frames that still arrive for it are discarded.
struct MuxStream {
    /// Whether this end opened the stream.
    let isLocal: Bool
    /// Local stream: the peer sent ACCEPT. Remote stream: this end sent ACCEPT.
    var isAccepted = false
    /// Remote stream accepted with `accept(_:holdFrame: true)` whose ACCEPT frame is not
    /// written yet: it goes out in front of the stream's next frame, or with
    /// `sendHeldAccepts`.
    var acceptHeld = false
    /// This end sent FIN (or will send nothing more).
    var sendClosed = false
    /// The peer sent FIN.
    var receiveClosed = false
    /// The application's last `send` took less than offered; report `windowOpened` on
    /// the next credit.
    var sendBlocked = false
    /// Bytes this end may still send. Invariant: 0 ≤ sendWindow ≤ 2^31 − 1.
    var sendWindow: Int
    /// Credit the peer still has. Invariant: 0 ≤ receiveWindow, and
    /// receiveWindow + unconsumed + creditPending = the credit granted since OPEN minus
    /// the bytes consumed and granted again — at most the initial window plus what the
    /// application consumed, so buffered bytes never exceed the window.
    var receiveWindow: Int
    /// Bytes delivered as `.data` and not yet `consumed`.
    var unconsumed = 0
    /// Bytes consumed and not yet granted back in a WINDOW frame.
    var creditPending = 0

    init(isLocal: Bool, sendWindow: Int, receiveWindow: Int) {
        self.isLocal = isLocal
        self.sendWindow = sendWindow
        self.receiveWindow = receiveWindow
    }

    /// Both directions are finished: the stream is gone.
    var isDone: Bool { sendClosed && receiveClosed }

    /// Whether this end may send DATA or FIN: an inbound stream must be accepted first.
    var maySend: Bool { !sendClosed && (isLocal || isAccepted) }
}

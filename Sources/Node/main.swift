import Tunnel
import Consensus

print("warren \(TunnelModule.version)")

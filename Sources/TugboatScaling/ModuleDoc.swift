// TugboatScaling: the scaling policy, the visible scaling state machine, and providers.
import TugboatCore

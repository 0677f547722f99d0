import Testing
@testable import TugboatCapture

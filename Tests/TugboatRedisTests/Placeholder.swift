import Testing
@testable import TugboatRedis

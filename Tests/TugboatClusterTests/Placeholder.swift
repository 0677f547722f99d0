import Testing
@testable import TugboatCluster

/// A provider whose platform picks the instance that leaves on a scale-down (Kubernetes): the
/// scaler asks for a count with ``shrink(to:)``, and the provider reports on ``leaving`` each
/// instance the platform takes away (terminating or gone), which the scaler then drains.
/// ``InstanceProvider/launch()`` returns an instance once the platform reports it ready.
package protocol ReplicaProvider: InstanceProvider {
    /// Asks the platform to run `count` instances.
    func shrink(to count: Int) async throws

    /// Instances the platform is taking away. One consumer (the scaler).
    var leaving: AsyncStream<ScalingInstance> { get }

    /// Instances the platform started that no launch waited for (another replica's scale step, a
    /// replica count set by someone else), reported once the first ``InstanceProvider/list()`` is
    /// in; the scaler adopts them whether or not it leads. One consumer (the scaler).
    var arriving: AsyncStream<ScalingInstance> { get }
}

/// Bounds on the sizes of a cell network, checked on every size that comes from a flag or a
/// file before a network is built, so that no size product can overflow and no absurd size
/// reaches the allocator. They are far above every published setting (C ≤ 48, L ≤ 20,
/// 1000 classes, 224-pixel images); whether a network within them fits the machine is
/// ``MemoryEstimate``'s question.
public enum NetworkLimits {
  public static let maximumChannels = 4096
  public static let maximumLayers = 1000
  public static let maximumClasses = 1_000_000
  public static let maximumInputChannels = 64
  public static let maximumInputSize = 8192

  /// One line naming the first size outside its bounds, or nil. `layers` must be at least
  /// `minimumLayers` (3 for networks with two reduction cells); `channelsFlag` and `layersFlag`
  /// name the flags that set them.
  public static func problem(
    channels: Int, layers: Int, minimumLayers: Int = 1, classes: Int? = nil, inputChannels: Int? = nil,
    inputSize: Int? = nil, channelsFlag: String = "--init-channels", layersFlag: String = "--layers"
  ) -> String? {
    func outside(_ name: String, _ value: Int, _ range: ClosedRange<Int>) -> String? {
      range.contains(value) ? nil : "\(name) is \(value), outside \(range.lowerBound)...\(range.upperBound)"
    }
    return outside("the initial channels C (\(channelsFlag))", channels, 1...maximumChannels)
      ?? outside("the number of cells (\(layersFlag))", layers, minimumLayers...maximumLayers)
      ?? classes.flatMap { outside("the number of classes (--classes)", $0, 1...maximumClasses) }
      ?? inputChannels.flatMap { outside("the image channels", $0, 1...maximumInputChannels) }
      ?? inputSize.flatMap { outside("the image size (--image-size)", $0, 1...maximumInputSize) }
  }
}

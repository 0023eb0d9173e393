/// The image format of each dataset, known without reading it (for network sizes and counts).
extension DatasetKind {
  /// Number of classes: 100 for CIFAR-100, 10 for the others.
  public var classCount: Int { self == .cifar100 ? 100 : 10 }

  /// Colour channels per image: 3 for CIFAR, 1 for the MNIST-like sets.
  public var imageChannels: Int {
    switch self {
    case .cifar10, .cifar100: 3
    case .mnist, .fashionMNIST, .demo: 1
    }
  }

  /// Height (= width) of the images: 32 for CIFAR, 28 for the MNIST-like sets.
  public var imageSize: Int {
    switch self {
    case .cifar10, .cifar100: 32
    case .mnist, .fashionMNIST, .demo: 28
    }
  }
}

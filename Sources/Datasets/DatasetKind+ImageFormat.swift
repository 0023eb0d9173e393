/// The image format of each dataset, known without reading it (for network sizes and counts).
extension DatasetKind {
  /// Number of classes: 100 for CIFAR-100, 10 for the other fixed datasets, nil for an image
  /// folder (one class per sub-folder, known only once it is read).
  public var classCount: Int? {
    switch self {
    case .cifar100: 100
    case .cifar10, .mnist, .fashionMNIST, .demo: 10
    case .imageFolder: nil
    }
  }

  /// Colour channels per image: 3 for CIFAR and image folders, 1 for the MNIST-like sets.
  public var imageChannels: Int {
    switch self {
    case .cifar10, .cifar100, .imageFolder: 3
    case .mnist, .fashionMNIST, .demo: 1
    }
  }

  /// Height (= width) of the network input: 32 for CIFAR, 28 for the MNIST-like sets, 224
  /// for image folders (the ImageNet crop; searches and training choose it with
  /// `--image-size`).
  public var imageSize: Int {
    switch self {
    case .cifar10, .cifar100: 32
    case .mnist, .fashionMNIST, .demo: 28
    case .imageFolder: 224
    }
  }
}

// tests/symbolizer/cxx_work.cpp — C++ names for the demangler: a namespace,
// a class template instantiated twice and an overloaded function, all kept
// out of line so each has its own code and mangled linkage name.
// usage: sym_cxx [N]
#include <cstdio>
#include <cstdlib>

namespace ember_test
{

template <typename T> class Accumulator
{
      public:
	explicit Accumulator(T start) : sum_(start)
	{
	}
	__attribute__((noinline)) void add(T v);
	T total() const
	{
		return sum_;
	}

      private:
	T sum_;
};

template <typename T> void Accumulator<T>::add(T v)
{
	sum_ += v * 3;
}

__attribute__((noinline)) long scale(long x)
{
	return x * 7 + 1;
}

__attribute__((noinline)) double scale(double x)
{
	return x * 0.5 + 1;
}

} // namespace ember_test

int main(int argc, char **argv)
{
	long n = argc > 1 ? std::atol(argv[1]) : 1000;
	ember_test::Accumulator<long> a(argc);
	ember_test::Accumulator<double> d(argc);
	for (long i = 0; i < n; i++) {
		a.add(ember_test::scale(i));
		d.add(ember_test::scale(static_cast<double>(i)));
	}
	std::printf("%ld %.1f\n", a.total(), d.total());
	return 0;
}

"""Stage 1, spectra: every input 2D grism spectrum read into ohmap's own product.

Wang et al. (2017), Sect. 3. One :class:`~ohmap.spectra.spectrum.Spectrum2D` per galaxy, PA and
grism, whatever the input format, with its units and provenance stated.

Modules, in the order data flow through them:

* :mod:`~ohmap.spectra.grisms`: the WFC3/IR grisms (usable range, dispersion, lines covered);
* :mod:`~ohmap.spectra.spectrum`: the 2D spectrum data model and the PA conventions;
* :mod:`~ohmap.spectra.glass`, :mod:`~ohmap.spectra.grizli_stack`,
  :mod:`~ohmap.spectra.grizli_beams`: readers of GLASS 2D files and of grizli's stacked and
  beams files;
* :mod:`~ohmap.spectra.ingest`: one entry point over the readers;
* :mod:`~ohmap.spectra.products`: ohmap's own spectrum product (FITS);
* :mod:`~ohmap.spectra.inventory`: what each spectrum covers and how deep it is.
"""
